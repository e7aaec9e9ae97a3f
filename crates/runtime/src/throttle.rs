//! A guest's share of a core. At every epoch tick that finds it running
//! wasm it gives its tokio worker back; once it has computed past its CPU
//! grace it pauses nineteen times as long as it ran since it last resumed,
//! so a runaway gets a twentieth of a core until its deadline ends it.
//!
//! What it ran is measured, not counted in ticks: a tick that comes late on
//! a busy machine does not hand a runaway more than its share, and time the
//! guest spent in its database calls (suspended, not computing) is not
//! charged, so a handler that mostly waits on its queries is never
//! throttled however many ticks they span. Other waits (outbound HTTP, a
//! sleep) are not told apart from computation: a tick's charge is capped
//! at [`MAX_CHARGE`], so one long wait costs no more than two ticks.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use geofn_telemetry::metrics::THROTTLED;

use crate::engine::EPOCH_TICK;

/// How many times as long as it ran a guest past its grace then pauses:
/// it keeps one part in twenty of a core.
pub(crate) const THROTTLE_PAUSE_RATIO: u32 = 19;

/// The most one tick charges: a slice that ran a tick late is charged in
/// full, a wait the host cannot tell from computation only this much.
pub(crate) const MAX_CHARGE: Duration = Duration::from_millis(2 * EPOCH_TICK.as_millis() as u64);

/// How a guest gives way at a tick: the future wasmtime awaits before it
/// resumes the guest.
pub(crate) type GiveWay = Pin<Box<dyn Future<Output = ()> + Send>>;

/// One call's CPU account: what its guest computed, against its grace.
pub(crate) struct CpuThrottle {
    /// Whose guest: the throttle counts in its metrics.
    handler: Arc<str>,
    grace: Duration,
    computed: Duration,
    /// Whether it has been throttled (counted once per call).
    throttled: bool,
    /// When the call began; resumptions are measured from it.
    origin: Instant,
    /// When the guest last resumed, in nanoseconds after `origin`, written
    /// by the future it gave way with (made at the first tick: most calls
    /// end before one).
    resumed: Option<Arc<AtomicU64>>,
    /// Its database waits (all so far) when it last resumed.
    waited_at_resume: Duration,
}

impl CpuThrottle {
    /// The account of `handler`'s call that began at `origin`, when its guest had
    /// waited `waited` on its database (earlier requests of a kept
    /// instance).
    pub(crate) fn new(
        handler: Arc<str>,
        grace: Duration,
        origin: Instant,
        waited: Duration,
    ) -> Self {
        Self {
            handler,
            grace,
            computed: Duration::ZERO,
            throttled: false,
            origin,
            resumed: None,
            waited_at_resume: waited,
        }
    }

    /// At a tick that found the guest running at `now`, `waited` on its
    /// database so far: charges what it computed since it last resumed, and
    /// says how it gives way.
    pub(crate) fn on_tick(&mut self, now: Instant, waited: Duration) -> GiveWay {
        let resumed = self.resumed.get_or_insert_with(Default::default);
        let resumed_at = self.origin + Duration::from_nanos(resumed.load(Ordering::Relaxed));
        let ran = now
            .saturating_duration_since(resumed_at)
            .saturating_sub(waited.saturating_sub(self.waited_at_resume))
            .min(MAX_CHARGE);
        self.computed += ran;
        self.waited_at_resume = waited;
        let throttled = self.computed > self.grace;
        if throttled && !self.throttled {
            self.throttled = true;
            metrics::counter!(THROTTLED, "handler" => self.handler.clone()).increment(1);
        }
        let pause = if throttled {
            ran * THROTTLE_PAUSE_RATIO
        } else {
            Duration::ZERO
        };
        let (resumed, origin) = (resumed.clone(), self.origin);
        Box::pin(async move {
            if pause.is_zero() {
                tokio::task::yield_now().await;
            } else {
                tokio::time::sleep(pause).await;
            }
            let at = u64::try_from(origin.elapsed().as_nanos()).unwrap_or(u64::MAX);
            resumed.store(at, Ordering::Relaxed);
        })
    }

    /// What the guest has computed so far.
    #[cfg(test)]
    fn computed(&self) -> Duration {
        self.computed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_guest_past_its_grace_pauses_nineteen_times_what_it_ran() {
        let mut throttle = CpuThrottle::new(
            "test".into(),
            Duration::from_millis(20),
            Instant::now(),
            Duration::ZERO,
        );
        // Within the grace: a yield, no pause.
        std::thread::sleep(Duration::from_millis(1));
        let before = tokio::time::Instant::now();
        throttle.on_tick(Instant::now(), Duration::ZERO).await;
        assert_eq!(
            tokio::time::Instant::now(),
            before,
            "paused within the grace"
        );
        for _ in 0..20 {
            std::thread::sleep(MAX_CHARGE);
            throttle.on_tick(Instant::now(), Duration::ZERO).await;
        }
        // Past it: a pause of 19 times what it ran since it resumed.
        std::thread::sleep(Duration::from_millis(1));
        let before = tokio::time::Instant::now();
        throttle.on_tick(Instant::now(), Duration::ZERO).await;
        let paused = tokio::time::Instant::now() - before;
        assert!(paused >= Duration::from_millis(19), "{paused:?}");
        assert!(paused <= MAX_CHARGE * THROTTLE_PAUSE_RATIO, "{paused:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_late_tick_is_charged_what_the_guest_ran_up_to_the_cap() {
        let mut throttle = CpuThrottle::new(
            "test".into(),
            Duration::ZERO,
            Instant::now(),
            Duration::ZERO,
        );
        std::thread::sleep(Duration::from_millis(30));
        let before = tokio::time::Instant::now();
        throttle.on_tick(Instant::now(), Duration::ZERO).await;
        assert_eq!(throttle.computed(), MAX_CHARGE);
        let paused = tokio::time::Instant::now() - before;
        let expected = MAX_CHARGE * THROTTLE_PAUSE_RATIO;
        // The timer's millisecond rounding aside.
        assert!(
            paused >= expected && paused <= expected + Duration::from_millis(1),
            "{paused:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn waiting_on_the_database_is_not_computation() {
        let mut throttle = CpuThrottle::new(
            "test".into(),
            Duration::from_millis(20),
            Instant::now(),
            Duration::ZERO,
        );
        let mut waited = Duration::ZERO;
        for _ in 0..50 {
            // A query that spans a tick: the guest suspended throughout.
            let query = Instant::now();
            std::thread::sleep(Duration::from_millis(2));
            waited += query.elapsed();
            let before = tokio::time::Instant::now();
            throttle.on_tick(Instant::now(), waited).await;
            assert_eq!(
                tokio::time::Instant::now(),
                before,
                "a waiting guest paused"
            );
        }
        assert!(
            throttle.computed() < Duration::from_millis(20),
            "{:?}",
            throttle.computed()
        );
    }
}
