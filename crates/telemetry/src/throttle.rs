//! At most one log line a second for an event that repeats under load.
//!
//! A refusal that happens once per request (the memory budget full, say)
//! would otherwise write a line per request exactly when the CPU is
//! short: thousands a second in a flood, megabytes of log in minutes. The
//! counters on `/metrics` count every one; the log says that it happens,
//! and how often, once a second.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// One repeated event's log lines, folded to one per interval.
#[derive(Debug)]
pub struct LogThrottle {
    every: Duration,
    started: Instant,
    /// Nanoseconds after `started` before which no line is written.
    quiet_until: AtomicU64,
    /// Events since the last line.
    folded: AtomicU64,
}

impl LogThrottle {
    /// A throttle writing at most one line per `every`.
    pub fn new(every: Duration) -> Self {
        Self {
            every,
            started: Instant::now(),
            quiet_until: AtomicU64::new(0),
            folded: AtomicU64::new(0),
        }
    }

    /// Counts one event; `Some(n)` when this one should be logged, `n`
    /// being the events since the last line, this one included.
    pub fn hit(&self) -> Option<u64> {
        self.hit_at(Instant::now())
    }

    fn hit_at(&self, now: Instant) -> Option<u64> {
        self.folded.fetch_add(1, Ordering::Relaxed);
        let at = now.saturating_duration_since(self.started).as_nanos() as u64;
        let quiet_until = self.quiet_until.load(Ordering::Relaxed);
        if at < quiet_until {
            return None;
        }
        let next = at.saturating_add(self.every.as_nanos() as u64);
        // One of the events arriving together writes the line.
        self.quiet_until
            .compare_exchange(quiet_until, next, Ordering::Relaxed, Ordering::Relaxed)
            .ok()?;
        Some(self.folded.swap(0, Ordering::Relaxed))
    }
}

impl Default for LogThrottle {
    /// One line a second.
    fn default() -> Self {
        Self::new(Duration::from_secs(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_event_is_logged_and_the_rest_of_the_second_folded_into_the_next() {
        let throttle = LogThrottle::new(Duration::from_secs(1));
        let start = throttle.started;
        let at = |ms| start + Duration::from_millis(ms);
        assert_eq!(throttle.hit_at(at(0)), Some(1));
        for ms in 1..=999 {
            assert_eq!(throttle.hit_at(at(ms)), None, "at {ms} ms");
        }
        assert_eq!(throttle.hit_at(at(1_000)), Some(1_000));
        assert_eq!(throttle.hit_at(at(1_500)), None);
        // A quiet spell: the next event is logged at once.
        assert_eq!(throttle.hit_at(at(60_000)), Some(2));
    }

    #[test]
    fn events_together_write_one_line() {
        let throttle = std::sync::Arc::new(LogThrottle::default());
        let lines: u64 = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..8)
                .map(|_| {
                    let throttle = throttle.clone();
                    scope.spawn(move || (0..1_000).filter(|_| throttle.hit().is_some()).count())
                })
                .collect();
            workers.into_iter().map(|w| w.join().unwrap() as u64).sum()
        });
        // 8,000 events in far less than a second (two lines at most if
        // the run straddles a second on a slow machine).
        assert!((1..=2).contains(&lines), "{lines} lines");
    }
}
