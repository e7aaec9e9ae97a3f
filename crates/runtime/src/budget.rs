//! The memory budget: the memory limits of the instances alive at once add
//! up to at most a budget, so that however many requests arrive and however
//! much each touches, the process stays within the memory it has, and the
//! kernel's OOM killer never ends every request of a replica at once.
//!
//! A request reserves its handler's memory limit before its instance is
//! created and gives it back when the instance is gone. A handler may hold
//! at most a share of the budget, so that one handler's flood leaves room
//! for the others. A request that cannot reserve within a short wait gets
//! a 503 with `Retry-After`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use geofn_telemetry::metrics as m;
use geofn_telemetry::throttle::LogThrottle;

use crate::system::{cgroup_memory_limit, meminfo_bytes};

/// Memory kept for the host itself when the budget is derived: its code,
/// compiled components, connections and buffers. A quarter of what the
/// process may use, and at least this much.
pub const MIN_HOST_RESERVE: u64 = 128 << 20;
/// How long a request waits for room in the budget before its 503: long
/// enough to ride out a burst of short requests, short enough that a client
/// or proxy retries elsewhere instead of queueing.
pub const DEFAULT_BUDGET_WAIT: Duration = Duration::from_millis(100);
/// The share of the budget one handler may hold, in percent.
pub const DEFAULT_HANDLER_SHARE_PERCENT: u8 = 50;
/// Budgets are counted in whole MiB (a semaphore permit each).
const UNIT: u64 = 1 << 20;

/// The process-wide budget and every handler's share of it.
pub struct MemoryBudget {
    total: Arc<Semaphore>,
    total_units: u32,
    share_units: u32,
    wait: Duration,
    shares: Mutex<HashMap<String, Share>>,
}

/// What a handler keeps across swaps: its part of the budget, and the
/// throttle of its refusals' log line.
#[derive(Clone)]
struct Share {
    room: Arc<Semaphore>,
    refusals: Arc<LogThrottle>,
}

/// One handler's side of the budget.
pub struct HandlerBudget {
    handler: Arc<str>,
    share: Arc<Semaphore>,
    total: Arc<Semaphore>,
    wait: Duration,
    refusals: Arc<LogThrottle>,
}

/// Memory reserved for one instance; given back when dropped.
#[derive(Debug)]
pub struct Reservation {
    _share: OwnedSemaphorePermit,
    _total: OwnedSemaphorePermit,
}

/// No room in the budget within the wait.
#[derive(Debug, thiserror::Error)]
#[error("the memory budget has no room for another {handler} instance of {mib} MiB")]
pub struct OverBudget {
    /// The handler.
    pub handler: Arc<str>,
    /// Its instance memory limit, MiB.
    pub mib: u32,
}

impl MemoryBudget {
    /// A budget of `bytes`, of which one handler may hold `share_percent`.
    pub fn new(bytes: u64, share_percent: u8, wait: Duration) -> Self {
        let total_units = u32::try_from(bytes / UNIT).unwrap_or(u32::MAX);
        let share_units =
            (u64::from(total_units) * u64::from(share_percent.clamp(1, 100)) / 100) as u32;
        Self {
            total: Arc::new(Semaphore::new(total_units as usize)),
            total_units,
            share_units: share_units.max(1),
            wait,
            shares: Mutex::default(),
        }
    }

    /// The budget in bytes.
    pub fn bytes(&self) -> u64 {
        u64::from(self.total_units) * UNIT
    }

    /// What one handler may hold, in bytes.
    pub fn share_bytes(&self) -> u64 {
        u64::from(self.share_units) * UNIT
    }

    /// Bytes reserved by live instances now.
    pub fn reserved_bytes(&self) -> u64 {
        (self.total_units as usize).saturating_sub(self.total.available_permits()) as u64 * UNIT
    }

    /// Sets the budget's gauges: a scrape hook.
    pub fn report_gauges(&self) {
        metrics::gauge!(m::MEMORY_BUDGET).set(self.bytes() as f64);
        metrics::gauge!(m::MEMORY_RESERVED).set(self.reserved_bytes() as f64);
        metrics::gauge!(m::MEMORY_SHARE).set(self.share_bytes() as f64);
    }

    /// `handler`'s side of the budget; the same share across swaps.
    pub fn for_handler(&self, handler: &str) -> HandlerBudget {
        let share = self
            .shares
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(handler.to_owned())
            .or_insert_with(|| Share {
                room: Arc::new(Semaphore::new(self.share_units as usize)),
                refusals: Arc::default(),
            })
            .clone();
        HandlerBudget {
            handler: Arc::from(handler),
            share: share.room,
            total: self.total.clone(),
            wait: self.wait,
            refusals: share.refusals,
        }
    }
}

impl HandlerBudget {
    /// [`reserve`](Self::reserve) when the room is there now; `None` when
    /// the request would have to wait.
    pub fn try_reserve(&self, memory_bytes: usize) -> Option<Reservation> {
        let mib = u32::try_from((memory_bytes as u64).div_ceil(UNIT)).unwrap_or(u32::MAX);
        let share = self.share.clone().try_acquire_many_owned(mib).ok()?;
        let total = self.total.clone().try_acquire_many_owned(mib).ok()?;
        Some(Reservation {
            _share: share,
            _total: total,
        })
    }

    /// Reserves `memory_bytes` (rounded up to MiB) for one instance, first
    /// from the handler's share, then from the whole budget. A refusal is
    /// counted and logged (once a second at most, with how many).
    pub async fn reserve(&self, memory_bytes: usize) -> Result<Reservation, OverBudget> {
        let mib = u32::try_from((memory_bytes as u64).div_ceil(UNIT)).unwrap_or(u32::MAX);
        let reserve = async {
            let share = self.share.clone().acquire_many_owned(mib).await.ok()?;
            let total = self.total.clone().acquire_many_owned(mib).await.ok()?;
            Some(Reservation {
                _share: share,
                _total: total,
            })
        };
        match tokio::time::timeout(self.wait, reserve).await {
            Ok(Some(reservation)) => Ok(reservation),
            _ => {
                metrics::counter!(m::MEMORY_REJECTED, "handler" => self.handler.to_string())
                    .increment(1);
                let over = OverBudget {
                    handler: self.handler.clone(),
                    mib,
                };
                // Every refusal is counted; a flood of them is one line a
                // second, not one per request.
                if let Some(refused) = self.refusals.hit() {
                    tracing::warn!(
                        handler.name = %self.handler,
                        refused,
                        error = %over,
                        "memory budget full; requests refused since the last such line"
                    );
                }
                Err(over)
            }
        }
    }
}

/// The budget when none is configured: what the process may use (its
/// cgroup's memory limit, else the machine's memory) minus the host's own
/// reserve (a quarter of it, at least [`MIN_HOST_RESERVE`]).
pub fn default_budget_bytes() -> u64 {
    let available = [cgroup_memory_limit(), meminfo_bytes("MemTotal")]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(1 << 30);
    let reserve = (available / 4).max(MIN_HOST_RESERVE);
    available.saturating_sub(reserve).max(UNIT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_handler_holds_at_most_its_share_and_others_still_fit() {
        let budget = MemoryBudget::new(100 << 20, 50, Duration::from_millis(20));
        let hog = budget.for_handler("hog");
        let held: Vec<_> = futures_join(&hog, 5, 10 << 20).await;
        assert_eq!(held.iter().filter(|r| r.is_ok()).count(), 5);
        assert!(hog.reserve(10 << 20).await.is_err(), "beyond its share");
        let other = budget.for_handler("other");
        assert!(other.reserve(10 << 20).await.is_ok());
        assert_eq!(budget.reserved_bytes(), 50 << 20);
        drop(held);
        assert!(hog.reserve(50 << 20).await.is_ok());
    }

    async fn futures_join(
        budget: &HandlerBudget,
        n: usize,
        bytes: usize,
    ) -> Vec<Result<Reservation, OverBudget>> {
        let mut out = Vec::new();
        for _ in 0..n {
            out.push(budget.reserve(bytes).await);
        }
        out
    }

    #[test]
    fn the_default_leaves_the_host_a_reserve() {
        let budget = default_budget_bytes();
        let machine = crate::system::meminfo_bytes("MemTotal").unwrap();
        assert!(
            budget <= machine - MIN_HOST_RESERVE,
            "{budget} of {machine}"
        );
        assert!(budget >= UNIT);
    }
}
