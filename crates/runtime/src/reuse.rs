//! Opt-in bounded reuse of a handler's instances.
//!
//! By default every request gets a fresh instance: nothing of one request
//! can reach the next. A handler whose manifest sets `reuse_requests =
//! [MIN, MAX]` trades that for speed: an instance that answered cleanly is
//! parked and serves a later request of the same handler — one request at
//! a time, never two at once — until it has served a number of requests
//! drawn at random between MIN and MAX (so an attacker cannot time the
//! recycling), and is retired early on a trap, a deadline, a 5xx answer,
//! anything written to stderr, a memory grown past half its limit,
//! `reuse_idle_ms` without a request, or a swap of its handler. A parked instance keeps its share of the memory
//! budget, and its pooled slot, until it is retired.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use crate::budget::Reservation;
use crate::call::Warm;
use crate::limits::ReusePolicy;

/// Instances one handler may keep parked: bounds the slots and memory
/// reuse holds beyond the requests running.
pub const MAX_PARKED: usize = 64;

/// An instance between two requests, with what it still may serve.
struct Parked {
    warm: Warm,
    left: u32,
    since: Instant,
    reservation: Reservation,
}

/// An instance a request holds, kept or about to be made.
pub struct Lease {
    /// The instance, when one was parked.
    pub warm: Option<Warm>,
    left: Option<u32>,
    reservation: Option<Reservation>,
}

impl Lease {
    /// The budget reservation of an instance made for this request.
    pub fn with_reservation(mut self, reservation: Reservation) -> Self {
        self.reservation = Some(reservation);
        self
    }

    /// Whether the request still needs room in the memory budget.
    pub fn needs_reservation(&self) -> bool {
        self.reservation.is_none()
    }
}

/// The parked instances of one loaded handler version.
pub struct InstanceReuse {
    policy: ReusePolicy,
    parked: Mutex<Vec<Parked>>,
    retired: AtomicBool,
}

impl InstanceReuse {
    /// No instance parked yet.
    pub fn new(policy: ReusePolicy) -> Self {
        Self {
            policy,
            parked: Mutex::new(Vec::new()),
            retired: AtomicBool::new(false),
        }
    }

    /// The most recently parked instance that has not idled too long, if
    /// any; a lease without one otherwise.
    pub fn take(&self) -> Lease {
        let mut parked = self.parked.lock().unwrap_or_else(|e| e.into_inner());
        while let Some(candidate) = parked.pop() {
            if candidate.since.elapsed() <= self.policy.idle {
                return Lease {
                    warm: Some(candidate.warm),
                    left: Some(candidate.left),
                    reservation: Some(candidate.reservation),
                };
            }
        }
        Lease {
            warm: None,
            left: None,
            reservation: None,
        }
    }

    /// Parks the instance a request used (`warm`, or nothing when it was
    /// not fit to serve again), unless it has served its share or its
    /// handler was swapped out.
    pub fn give_back(&self, lease: Lease, warm: Option<Warm>) {
        let (Some(warm), Some(reservation)) = (warm, lease.reservation) else {
            return;
        };
        let left = lease.left.unwrap_or_else(|| self.policy.draw()) - 1;
        if left == 0 || self.retired.load(Ordering::Acquire) {
            return;
        }
        let mut parked = self.parked.lock().unwrap_or_else(|e| e.into_inner());
        if parked.len() < MAX_PARKED && !self.retired.load(Ordering::Acquire) {
            parked.push(Parked {
                warm,
                left,
                since: Instant::now(),
                reservation,
            });
        }
    }

    /// Retires every parked instance and every one still serving (when it
    /// comes back): its handler version is no longer served.
    pub fn retire(&self) {
        self.retired.store(true, Ordering::Release);
        self.parked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// Retires the instances that waited longer than the idle timeout.
    pub fn sweep(&self) {
        let idle = self.policy.idle;
        self.parked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|p| p.since.elapsed() <= idle);
    }

    /// Instances parked now.
    pub fn parked(&self) -> usize {
        self.parked.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::DEFAULT_IDLE;

    #[test]
    fn the_share_is_drawn_inside_the_range() {
        let policy = ReusePolicy {
            min_requests: 10,
            max_requests: 20,
            idle: DEFAULT_IDLE,
        };
        let draws: Vec<u32> = (0..1000).map(|_| policy.draw()).collect();
        assert!(draws.iter().all(|d| (10..=20).contains(d)));
        assert!(draws.iter().any(|&d| d != draws[0]), "not random");
        let odd = ReusePolicy {
            min_requests: 0,
            max_requests: 0,
            idle: DEFAULT_IDLE,
        };
        assert_eq!(odd.draw(), 1);
    }
}
