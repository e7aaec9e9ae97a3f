//! Admission control: a bounded number of handler requests in flight.
//! Beyond it a request gets an immediate 503 with `Retry-After` instead of
//! joining an unbounded queue; a load balancer retries it elsewhere and the
//! requests already admitted keep their latency.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use geofn_telemetry::metrics::{IN_FLIGHT, IN_FLIGHT_LIMIT};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Handler requests one host runs at once when not configured: enough to
/// keep 16 database connections busy with requests queued behind them,
/// well under the 1000 instance slots of the pooling allocator.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 256;

/// The in-flight bound and what it turned away.
#[derive(Debug)]
pub struct Admission {
    permits: Arc<Semaphore>,
    limit: usize,
    rejected: AtomicU64,
}

impl Admission {
    /// At most `limit` requests at once.
    pub fn new(limit: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(limit)),
            limit,
            rejected: AtomicU64::new(0),
        }
    }

    /// A slot for one request, released when dropped; `None` when full.
    pub fn try_admit(&self) -> Option<OwnedSemaphorePermit> {
        let permit = self.permits.clone().try_acquire_owned().ok();
        if permit.is_none() {
            self.rejected.fetch_add(1, Ordering::Relaxed);
        }
        permit
    }

    /// Requests turned away so far.
    pub fn rejected(&self) -> u64 {
        self.rejected.load(Ordering::Relaxed)
    }

    /// Requests running now.
    pub fn in_flight(&self) -> usize {
        self.limit - self.permits.available_permits()
    }

    /// The bound.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Sets the in-flight gauges: a scrape hook.
    pub fn report_gauges(&self) {
        metrics::gauge!(IN_FLIGHT).set(self.in_flight() as f64);
        metrics::gauge!(IN_FLIGHT_LIMIT).set(self.limit() as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_up_to_the_limit_then_counts_rejections() {
        let admission = Admission::new(2);
        let a = admission.try_admit();
        let b = admission.try_admit();
        assert!(a.is_some() && b.is_some());
        assert!(admission.try_admit().is_none());
        assert_eq!((admission.in_flight(), admission.rejected()), (2, 1));
        drop(a);
        assert!(admission.try_admit().is_some());
    }
}
