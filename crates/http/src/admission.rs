//! Admission control: a bounded number of handler requests in flight, and
//! in front of it a bounded queue with a deadline.
//!
//! A request that finds every slot taken waits for one only while it can
//! still be answered in time: at most `--queue-wait-ms` minus the measured
//! service time (a moving average of how long admitted requests hold their
//! slot), and only if the queue ahead of it can drain within that (the
//! slots free up `limit / service` times a second). Otherwise it gets a
//! 503 with `Retry-After` at once, so a load balancer retries elsewhere and
//! the requests already admitted keep their latency. A short burst queues
//! instead of failing; a sustained overload is still refused fast, and the
//! waiting requests (their headers only: the body is read after admission)
//! are bounded in number.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use geofn_telemetry::metrics::{ADMISSION_QUEUED, ADMISSION_WAIT, IN_FLIGHT, IN_FLIGHT_LIMIT};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Handler requests one host runs at once when not configured: enough to
/// keep 16 database connections busy with requests queued behind them,
/// well under the 1000 instance slots of the pooling allocator.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 256;
/// The longest a request waits for a slot plus its expected service time,
/// when not configured: the guide's latency objective (p95 < 100 ms).
pub const DEFAULT_QUEUE_WAIT: Duration = Duration::from_millis(100);
/// Waiting requests at most, as a multiple of the in-flight bound: the
/// queue's memory bound whatever the service time says.
const QUEUE_PER_SLOT: usize = 4;
/// Weight of the newest request in the service-time average (1/16).
const SERVICE_SMOOTHING: u64 = 16;

/// The in-flight bound, its queue, and what it turned away.
#[derive(Debug)]
pub struct Admission {
    permits: Arc<Semaphore>,
    limit: usize,
    queue_wait: Duration,
    max_queued: usize,
    queued: AtomicUsize,
    service: Arc<ServiceTime>,
    rejected: AtomicU64,
}

/// A moving average of how long an admitted request holds its slot.
#[derive(Debug, Default)]
struct ServiceTime {
    micros: AtomicU64,
}

impl ServiceTime {
    fn get(&self) -> Duration {
        Duration::from_micros(self.micros.load(Ordering::Relaxed))
    }

    /// Folds one request in. Concurrent updates may lose one another's
    /// sample: an average of many does not mind.
    fn add(&self, took: Duration) {
        let sample = took.as_micros().min(u128::from(u64::MAX)) as u64;
        let old = self.micros.load(Ordering::Relaxed);
        let new = if old == 0 {
            sample
        } else {
            old - old / SERVICE_SMOOTHING + sample / SERVICE_SMOOTHING
        };
        self.micros.store(new.max(1), Ordering::Relaxed);
    }
}

/// One request's slot, released (and its service time counted) when dropped.
#[derive(Debug)]
pub struct Admitted {
    _permit: OwnedSemaphorePermit,
    since: Instant,
    service: Arc<ServiceTime>,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.service.add(self.since.elapsed());
    }
}

/// Why a request was not admitted, for its problem document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Every slot was taken and none could be had in time (or the queue
    /// ahead of it could not drain in time).
    Full {
        /// Requests running.
        running: usize,
        /// Requests waiting ahead of this one.
        queued: usize,
    },
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Full { running, queued } => write!(
                f,
                "this replica is running {running} requests with {queued} waiting, \
                 and this one could not start in time; retry shortly"
            ),
        }
    }
}

/// Leaves the queue when dropped, however the wait ended.
struct InQueue<'a>(&'a AtomicUsize);

impl Drop for InQueue<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Admission {
    /// At most `limit` requests at once; a request waits for a slot only
    /// while it can still be answered within `queue_wait` (zero: never
    /// waits).
    pub fn new(limit: usize, queue_wait: Duration) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(limit)),
            limit,
            queue_wait,
            max_queued: limit.saturating_mul(QUEUE_PER_SLOT),
            queued: AtomicUsize::new(0),
            service: Arc::default(),
            rejected: AtomicU64::new(0),
        }
    }

    /// A slot for one request: at once when one is free, else after a
    /// bounded wait, else refused.
    pub async fn admit(&self) -> Result<Admitted, Refused> {
        if let Ok(permit) = self.permits.clone().try_acquire_owned() {
            return Ok(self.admitted(permit));
        }
        let arrived = Instant::now();
        let service = self.service.get();
        let wait = self.queue_wait.saturating_sub(service);
        let ahead = self.queued.fetch_add(1, Ordering::Relaxed);
        let in_queue = InQueue(&self.queued);
        if wait.is_zero() || ahead >= self.queue_bound(wait, service) {
            drop(in_queue);
            return Err(self.refuse(ahead));
        }
        let acquired = tokio::time::timeout(wait, self.permits.clone().acquire_owned()).await;
        drop(in_queue);
        metrics::histogram!(ADMISSION_WAIT).record(arrived.elapsed().as_secs_f64());
        match acquired {
            Ok(Ok(permit)) => Ok(self.admitted(permit)),
            _ => Err(self.refuse(self.queued.load(Ordering::Relaxed))),
        }
    }

    /// How many may wait: as many as the slots can take in within `wait`
    /// at the measured service time, at most the memory bound.
    fn queue_bound(&self, wait: Duration, service: Duration) -> usize {
        if service.is_zero() {
            return self.max_queued;
        }
        let per_slot = wait.as_secs_f64() / service.as_secs_f64();
        let bound = (self.limit as f64 * per_slot).ceil();
        (bound as usize).min(self.max_queued)
    }

    fn admitted(&self, permit: OwnedSemaphorePermit) -> Admitted {
        Admitted {
            _permit: permit,
            since: Instant::now(),
            service: self.service.clone(),
        }
    }

    fn refuse(&self, queued: usize) -> Refused {
        self.rejected.fetch_add(1, Ordering::Relaxed);
        Refused::Full {
            running: self.in_flight(),
            queued,
        }
    }

    /// Requests turned away so far.
    pub fn rejected(&self) -> u64 {
        self.rejected.load(Ordering::Relaxed)
    }

    /// Requests running now.
    pub fn in_flight(&self) -> usize {
        self.limit - self.permits.available_permits()
    }

    /// Requests waiting for a slot now.
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    /// The bound.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// The average time an admitted request holds its slot.
    pub fn service_time(&self) -> Duration {
        self.service.get()
    }

    /// Sets the in-flight gauges: a scrape hook.
    pub fn report_gauges(&self) {
        metrics::gauge!(IN_FLIGHT).set(self.in_flight() as f64);
        metrics::gauge!(IN_FLIGHT_LIMIT).set(self.limit() as f64);
        metrics::gauge!(ADMISSION_QUEUED).set(self.queued() as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WAIT: Duration = Duration::from_millis(100);

    #[tokio::test]
    async fn without_a_queue_it_admits_up_to_the_limit_then_refuses_at_once() {
        let admission = Admission::new(2, Duration::ZERO);
        let a = admission.admit().await.unwrap();
        let _b = admission.admit().await.unwrap();
        let started = Instant::now();
        assert!(admission.admit().await.is_err());
        assert!(started.elapsed() < Duration::from_millis(20));
        assert_eq!((admission.in_flight(), admission.rejected()), (2, 1));
        drop(a);
        assert!(admission.admit().await.is_ok());
    }

    #[tokio::test]
    async fn a_request_waits_for_a_slot_freed_within_its_deadline() {
        let admission = Arc::new(Admission::new(1, WAIT));
        let held = admission.admit().await.unwrap();
        let waiter = {
            let admission = admission.clone();
            tokio::spawn(async move { admission.admit().await.map(drop) })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(admission.queued(), 1);
        drop(held);
        assert!(waiter.await.unwrap().is_ok(), "the waiter was refused");
        assert_eq!((admission.queued(), admission.rejected()), (0, 0));
    }

    #[tokio::test]
    async fn a_slot_not_freed_in_time_is_a_refusal_after_the_wait() {
        let admission = Admission::new(1, WAIT);
        let _held = admission.admit().await.unwrap();
        let started = Instant::now();
        let refused = admission.admit().await.unwrap_err();
        let waited = started.elapsed();
        assert!(waited >= WAIT && waited < WAIT * 3, "{waited:?}");
        assert_eq!(
            refused,
            Refused::Full {
                running: 1,
                queued: 0
            }
        );
        assert_eq!(admission.queued(), 0);
    }

    #[tokio::test]
    async fn slow_service_leaves_no_time_to_wait() {
        let admission = Admission::new(1, WAIT);
        admission.service.add(Duration::from_millis(150));
        let _held = admission.admit().await.unwrap();
        let started = Instant::now();
        assert!(admission.admit().await.is_err());
        assert!(started.elapsed() < Duration::from_millis(20));
    }

    #[test]
    fn the_queue_holds_what_the_slots_can_take_in_within_the_wait() {
        let admission = Admission::new(8, WAIT);
        // 30 ms each: a slot takes 3 more within the 90 ms left.
        let ms = Duration::from_millis;
        assert_eq!(admission.queue_bound(ms(90), ms(30)), 24);
        // Fast requests: the memory bound wins.
        assert_eq!(
            admission.queue_bound(ms(99), Duration::from_micros(100)),
            32
        );
        // Nothing measured yet.
        assert_eq!(admission.queue_bound(ms(100), Duration::ZERO), 32);
    }

    #[test]
    fn the_service_time_follows_the_requests() {
        let service = ServiceTime::default();
        service.add(Duration::from_millis(2));
        assert_eq!(service.get(), Duration::from_millis(2));
        for _ in 0..200 {
            service.add(Duration::from_millis(10));
        }
        let now = service.get();
        assert!(
            now > Duration::from_millis(9) && now <= Duration::from_millis(10),
            "{now:?}"
        );
    }
}
