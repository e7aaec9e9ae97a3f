//! The epoch ticker behind deadlines and guest yields. A plain thread, so
//! it keeps ticking when every tokio worker is busy running guests; and
//! parked while no call is inside wasm, because a tick only matters to a
//! guest that is running: an idle host used to wake 1,000 times a second
//! for nothing (about 2% of a core on a small VM, where each timer wake-up
//! is a VM exit), and an idle fleet of replicas paid that on every one.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::thread::Thread;
use std::time::{Duration, Instant};

use wasmtime::Engine;

/// Advances an engine's epoch every `tick` while at least one [`Busy`]
/// guard is alive; stops its thread when dropped.
pub struct EpochTicker {
    shared: Arc<Shared>,
    thread: Thread,
}

struct Shared {
    /// Calls between [`EpochTicker::busy`] and the guard's drop.
    in_flight: AtomicUsize,
    stop: AtomicBool,
    /// Epochs advanced so far.
    ticks: AtomicU64,
    /// Whether the thread is parked (or about to be), not ticking.
    parked: AtomicBool,
}

/// A call that may run wasm: while one exists, the epoch advances.
pub struct Busy<'a> {
    shared: &'a Shared,
}

impl EpochTicker {
    /// Starts the ticker's thread, parked until the first call.
    pub fn spawn(engine: Engine, tick: Duration) -> Self {
        let shared = Arc::new(Shared {
            in_flight: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            ticks: AtomicU64::new(0),
            parked: AtomicBool::new(false),
        });
        let ticking = shared.clone();
        let thread = std::thread::Builder::new()
            .name("geofn-epoch".into())
            .spawn(move || run(&engine, &ticking, tick))
            .expect("spawning the epoch thread");
        Self {
            thread: thread.thread().clone(),
            shared,
        }
    }

    /// Marks a call in flight until the guard drops, waking the ticker for
    /// the first. Take it before the instance exists: instantiation runs
    /// the guest's start functions.
    pub fn busy(&self) -> Busy<'_> {
        if self.shared.in_flight.fetch_add(1, Ordering::AcqRel) == 0 {
            self.thread.unpark();
        }
        Busy {
            shared: &self.shared,
        }
    }

    /// Epochs advanced since the ticker started.
    pub fn ticks(&self) -> u64 {
        self.shared.ticks.load(Ordering::Relaxed)
    }

    /// Whether the ticker is parked, waiting for a call.
    pub fn parked(&self) -> bool {
        self.shared.parked.load(Ordering::Acquire)
    }
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.shared.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        self.thread.unpark();
    }
}

/// The ticker's loop. An unpark that comes before the park is kept by the
/// thread (std's park token), so a call starting between the check and the
/// park still wakes it; a spurious wake-up finds nothing in flight and
/// parks again.
fn run(engine: &Engine, shared: &Shared, tick: Duration) {
    let mut next = Instant::now();
    while !shared.stop.load(Ordering::Relaxed) {
        if shared.in_flight.load(Ordering::Acquire) == 0 {
            shared.parked.store(true, Ordering::Release);
            std::thread::park();
            shared.parked.store(false, Ordering::Release);
            // Counted from the wake-up: no burst of ticks owed from the nap.
            next = Instant::now();
            continue;
        }
        next += tick;
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
        engine.increment_epoch();
        shared.ticks.fetch_add(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TICK: Duration = Duration::from_millis(1);

    fn ticker() -> EpochTicker {
        let mut config = wasmtime::Config::new();
        config.epoch_interruption(true);
        EpochTicker::spawn(Engine::new(&config).unwrap(), TICK)
    }

    /// Waits (up to 10 s, for a loaded machine) until `done`.
    fn eventually(what: &str, done: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done() {
            assert!(Instant::now() < deadline, "{what}: not within 10 s");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Asserts no tick comes in the next 50 ms.
    fn no_tick(ticker: &EpochTicker, what: &str) {
        let before = ticker.ticks();
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(ticker.ticks(), before, "{what}");
    }

    #[test]
    fn an_idle_ticker_does_not_tick() {
        let ticker = ticker();
        eventually("parked at the start", || ticker.parked());
        no_tick(&ticker, "ticking before any call");
    }

    #[test]
    fn it_ticks_while_a_call_is_in_flight_and_stops_after_the_last() {
        let ticker = ticker();
        let first = ticker.busy();
        let second = ticker.busy();
        eventually("ticking for two calls", || ticker.ticks() >= 3);
        drop(first);
        let after_first = ticker.ticks();
        eventually("ticking for the call still in flight", || {
            ticker.ticks() >= after_first + 3
        });
        drop(second);
        eventually("parked after the last call", || ticker.parked());
        no_tick(&ticker, "ticking with nothing in flight");
        let idle = ticker.ticks();
        let _again = ticker.busy();
        eventually("woken by the next call", || ticker.ticks() > idle);
    }
}
