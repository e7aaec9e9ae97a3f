//! Where every completed request goes: HDR histograms overall and per
//! kind, and a per-second timeline (completions, failures, latency
//! percentiles, the load at that moment), with a progress line.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::sync::mpsc;

/// Latencies are recorded in microseconds, up to a minute, 3 significant digits.
const MAX_MICROS: u64 = 60_000_000;

/// One finished request.
#[derive(Debug)]
pub struct Event {
    /// Index of its kind in the mix.
    pub kind: usize,
    /// From when it should have been sent (open model) or was sent (closed).
    pub latency: Duration,
    /// 2xx, or not (non-2xx answers and transport failures both count).
    pub failure: Option<String>,
}

/// Counts and latencies of a set of requests.
#[derive(Debug, Clone)]
pub struct Tally {
    pub ok: u64,
    pub failed: u64,
    pub latency: Histogram<u64>,
}

impl Default for Tally {
    fn default() -> Self {
        Self {
            ok: 0,
            failed: 0,
            latency: Histogram::new_with_bounds(1, MAX_MICROS, 3).expect("valid bounds"),
        }
    }
}

impl Tally {
    fn record(&mut self, event: &Event) {
        if event.failure.is_some() {
            self.failed += 1;
        } else {
            self.ok += 1;
        }
        let micros = (event.latency.as_micros() as u64).clamp(1, MAX_MICROS);
        let _ = self.latency.record(micros);
    }

    /// Adds another tally in.
    pub fn merge(&mut self, other: &Tally) {
        self.ok += other.ok;
        self.failed += other.failed;
        let _ = self.latency.add(&other.latency);
    }

    /// A latency quantile in milliseconds.
    pub fn ms(&self, quantile: f64) -> f64 {
        self.latency.value_at_quantile(quantile) as f64 / 1000.0
    }
}

/// One second of the run.
#[derive(Debug, Clone, Default)]
pub struct Window {
    /// Users, or offered requests per second, during that second.
    pub load: u64,
    pub tally: Tally,
}

/// Everything recorded.
#[derive(Debug)]
pub struct Stats {
    pub kinds: Vec<String>,
    pub per_kind: Vec<Tally>,
    pub windows: Vec<Window>,
    pub failures: BTreeMap<String, u64>,
}

impl Stats {
    /// All requests of all kinds.
    pub fn overall(&self) -> Tally {
        let mut total = Tally::default();
        for tally in &self.per_kind {
            total.merge(tally);
        }
        total
    }

    /// The windows from second `from` (inclusive) to `to` (exclusive), merged.
    pub fn between(&self, from: usize, to: usize) -> Tally {
        let mut total = Tally::default();
        for window in self.windows.iter().take(to).skip(from) {
            total.merge(&window.tally);
        }
        total
    }
}

/// Receives events until every sender is gone; prints a progress line
/// every second unless `quiet`.
pub async fn aggregate(
    mut events: mpsc::Receiver<Event>,
    kinds: Vec<String>,
    load: Arc<AtomicU64>,
    started: Instant,
    quiet: bool,
) -> Stats {
    let mut stats = Stats {
        per_kind: vec![Tally::default(); kinds.len()],
        kinds,
        windows: Vec::new(),
        failures: BTreeMap::new(),
    };
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            event = events.recv() => {
                let Some(event) = event else { break };
                let second = started.elapsed().as_secs() as usize;
                if stats.windows.len() <= second {
                    stats.windows.resize(second + 1, Window::default());
                }
                let window = &mut stats.windows[second];
                window.load = load.load(Ordering::Relaxed);
                window.tally.record(&event);
                stats.per_kind[event.kind].record(&event);
                if let Some(reason) = event.failure {
                    *stats.failures.entry(reason).or_default() += 1;
                }
            }
            _ = tick.tick() => {
                if !quiet {
                    progress(&stats, started, load.load(Ordering::Relaxed));
                }
            }
        }
    }
    if !quiet {
        eprintln!();
    }
    stats
}

fn progress(stats: &Stats, started: Instant, load: u64) {
    let second = started.elapsed().as_secs() as usize;
    let last = second.checked_sub(1).and_then(|s| stats.windows.get(s));
    let (rps, p95, failed) = last.map_or((0, 0.0, 0), |w| {
        (
            w.tally.ok + w.tally.failed,
            w.tally.ms(0.95),
            w.tally.failed,
        )
    });
    let total = stats.overall();
    eprint!(
        "\r[{second:>5}s] load {load:>6} | {rps:>6} req/s | p95 {p95:>8.2} ms | failures {failed:>4}/s, {:>7} in all   ",
        total.failed
    );
}
