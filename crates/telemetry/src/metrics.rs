//! Prometheus metrics through the `metrics` facade. Labels are bounded:
//! route templates (never raw paths), handler names from the manifest,
//! status classes, and rejection reasons from a fixed list.
//!
//! This module names every family and renders them; it reads no state of
//! its own. Whoever owns a number reports it: counters and histograms as
//! events happen, gauges from a hook it registers on the [`Exporter`],
//! run at every scrape.

use std::fmt::Write;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

pub use crate::families::*;
use crate::families::{COUNTERS, GAUGES, HISTOGRAMS, PER_HANDLER_COUNTERS, STATUS_CLASSES};

/// Latency buckets, seconds: from a cached lookup to a stuck handler's deadline.
pub(crate) const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// How often idle histogram state is compacted.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
/// Families counted per handler and reason, with every reason their owner
/// can give: zeroed for each handler as it loads.
static PER_HANDLER_REASONS: RwLock<Vec<(&'static str, &'static str, &'static [&'static str])>> =
    RwLock::new(Vec::new());

/// What runs at every scrape: it sets the gauges its owner reads at that
/// moment, and may append whole families of its own to the text.
type ScrapeHook = Box<dyn Fn(&mut String) + Send + Sync>;

/// The `/metrics` text's source: the process-wide recorder, and the hooks
/// that owners of scrape-time numbers (pools, budgets, the served set)
/// registered.
#[derive(Clone)]
pub struct Exporter {
    handle: PrometheusHandle,
    hooks: Arc<RwLock<Vec<ScrapeHook>>>,
}

impl std::fmt::Debug for Exporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exporter").finish_non_exhaustive()
    }
}

impl Exporter {
    /// Runs `hook` at every scrape, before the text is rendered.
    pub fn on_scrape(&self, hook: impl Fn(&mut String) + Send + Sync + 'static) {
        self.hooks
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(Box::new(hook));
    }

    /// The Prometheus text: every hook run, then everything recorded, then
    /// what the hooks appended.
    pub fn render(&self) -> String {
        let mut appended = String::new();
        for hook in self
            .hooks
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
        {
            hook(&mut appended);
        }
        let mut text = self.handle.render();
        text.push_str(&appended);
        text
    }
}

/// Installs the process-wide recorder (once; later calls share it) and
/// returns an exporter with no hooks yet.
pub fn install() -> Exporter {
    let handle = HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
                .expect("non-empty buckets")
                .build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed; /metrics may be empty");
            }
            describe_and_zero();
            let upkeep = handle.clone();
            std::thread::Builder::new()
                .name("geofn-metrics".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(UPKEEP_EVERY);
                        upkeep.run_upkeep();
                    }
                })
                .expect("spawning the metrics upkeep thread");
            handle
        })
        .clone();
    Exporter {
        handle,
        hooks: Arc::default(),
    }
}

/// Gives every family its `# HELP`, and registers the counters that have
/// no per-handler label at zero.
fn describe_and_zero() {
    for &(name, help) in COUNTERS {
        metrics::describe_counter!(name, help);
    }
    for &(name, help) in GAUGES {
        metrics::describe_gauge!(name, help);
    }
    for &(name, help) in HISTOGRAMS {
        metrics::describe_histogram!(name, metrics::Unit::Seconds, help);
    }
    metrics::counter!(SWAPS_APPLIED).increment(0);
    metrics::counter!(ADMISSION_REJECTED).increment(0);
    metrics::counter!(FLEET_NOTIFICATIONS_IGNORED).increment(0);
    for target in ["primary", "replica"] {
        metrics::counter!(READS, "target" => target).increment(0);
    }
    for how in ["signature", "cached"] {
        metrics::counter!(AUTH_VERIFIED, "how" => how).increment(0);
    }
    for result in ["ok", "failed"] {
        metrics::counter!(AUTH_KEY_REFRESHES, "result" => result).increment(0);
    }
    for route in ["/status", "/livez", "/metrics", "/"] {
        zero_requests(route, "host");
    }
}

/// Registers at zero the counters a labelled family starts with, one per
/// value of `label` that its owner can give: `rate()` and alerts then work
/// before the first event.
pub fn zero_counters(name: &'static str, label: &'static str, values: &[&'static str]) {
    for &value in values {
        metrics::counter!(name, label => value).increment(0);
    }
}

/// Says that `name` counts per handler and `label`, whose values are
/// `values`: each handler that loads starts with every value at zero.
pub fn count_per_handler(name: &'static str, label: &'static str, values: &'static [&'static str]) {
    PER_HANDLER_REASONS
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push((name, label, values));
}

/// Registers at zero the counters of one handler and of its route
/// templates (counters already running keep their counts).
pub fn register_handler<'a>(handler: &str, routes: impl IntoIterator<Item = &'a str>) {
    for &counter in PER_HANDLER_COUNTERS {
        metrics::counter!(counter, "handler" => handler.to_owned()).increment(0);
    }
    for &(name, label, values) in PER_HANDLER_REASONS
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .iter()
    {
        for &value in values {
            metrics::counter!(name, "handler" => handler.to_owned(), label => value).increment(0);
        }
    }
    for route in routes {
        zero_requests(route, handler);
    }
}

fn zero_requests(route: &str, handler: &str) {
    for &status in STATUS_CLASSES {
        let labels = [
            ("route", route.to_owned()),
            ("handler", handler.to_owned()),
            ("status", status.to_owned()),
        ];
        metrics::counter!(HTTP_REQUESTS, &labels).increment(0);
    }
}

/// "2xx", "4xx", ...: status classes keep the label set small.
pub fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// Appends a gauge family rebuilt at every scrape, each series at 1: one
/// per item that exists now (a handler version swapped out disappears
/// instead of lingering at a stale value).
pub fn write_info<'a>(
    out: &mut String,
    name: &str,
    help: &str,
    series: impl IntoIterator<Item = &'a [(&'a str, &'a str)]>,
) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} gauge");
    for labels in series {
        let labels: Vec<String> = labels
            .iter()
            .map(|(key, value)| format!("{key}=\"{}\"", escape_label(value)))
            .collect();
        let _ = writeln!(out, "{name}{{{}}} 1", labels.join(","));
    }
}

/// A label value as the text format needs it: backslash, quote and
/// newline escaped.
fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_collapse_to_classes() {
        assert_eq!(status_class(201), "2xx");
        assert_eq!(status_class(404), "4xx");
        assert_eq!(status_class(503), "5xx");
    }

    #[test]
    fn info_series_escape_their_labels() {
        let mut out = String::new();
        let series: [&[(&str, &str)]; 2] = [
            &[("handler", "a"), ("sha256", "00")],
            &[("handler", "q\"\\\n")],
        ];
        write_info(&mut out, "x_info", "What is served.", series);
        assert_eq!(
            out,
            "# HELP x_info What is served.\n# TYPE x_info gauge\n\
             x_info{handler=\"a\",sha256=\"00\"} 1\n\
             x_info{handler=\"q\\\"\\\\\\n\"} 1\n"
        );
    }

    #[test]
    fn hooks_run_at_every_scrape_and_append_after_the_recorded_families() {
        let exporter = install();
        exporter.on_scrape(|out| out.push_str("# from a hook\n"));
        let text = exporter.render();
        assert!(text.ends_with("# from a hook\n"), "{text}");
        assert!(text.contains(SWAPS_APPLIED), "{text}");
    }
}
