//! Prometheus metrics through the `metrics` facade. Labels are bounded:
//! route templates (never raw paths), handler names from the manifest,
//! status classes, and rejection reasons from a fixed list.

use std::fmt::Write;
use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::state::AppState;

/// Requests answered, by `route`, `handler` and `status` class.
pub const HTTP_REQUESTS: &str = "geofn_http_requests_total";
/// Request latency in seconds, same labels.
pub const HTTP_DURATION: &str = "geofn_http_request_duration_seconds";
/// Time to instantiate a handler component for one request, by `handler`.
pub const INSTANTIATE: &str = "geofn_handler_instantiate_seconds";
/// Time a request waited for a pooled connection.
pub const POOL_WAIT: &str = "geofn_db_pool_wait_seconds";
/// Latency of a handler's db call, by `handler` and `call` (query, execute).
pub const DB_QUERY: &str = "geofn_db_query_duration_seconds";
/// Handler sets swapped in.
pub const SWAPS_APPLIED: &str = "geofn_handler_swaps_applied_total";
/// Reloads rejected, by `reason`.
pub const SWAPS_REJECTED: &str = "geofn_handler_swaps_rejected_total";
/// Requests turned away by admission control.
pub const ADMISSION_REJECTED: &str = "geofn_admission_rejected_total";
/// Requests whose handler already held its whole share of the database
/// pool for the whole wait, by `handler`.
pub const DB_SHARE_EXHAUSTED: &str = "geofn_db_share_exhausted_total";
/// Statements cancelled because their call ended early, by `handler`.
pub const DB_CANCELLATIONS: &str = "geofn_db_cancellations_total";
/// Statements the server ended at the handler's `statement_timeout`, by `handler`.
pub const DB_STATEMENT_TIMEOUTS: &str = "geofn_db_statement_timeouts_total";
/// Requests turned away because the memory budget had no room, by `handler`.
pub const MEMORY_REJECTED: &str = "geofn_memory_budget_rejected_total";
/// Notifications on the fleet channel that no host signed.
pub const FLEET_NOTIFICATIONS_IGNORED: &str = "geofn_fleet_notifications_ignored_total";

/// Latency buckets, seconds: from a cached lookup to a stuck handler's deadline.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// How often idle histogram state is compacted.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process-wide recorder (once; later calls reuse it).
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
                .expect("non-empty buckets")
                .build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed; /metrics may be empty");
            }
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
        .clone()
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

/// The `/metrics` text: everything recorded, plus what is read at scrape
/// time (pool, in-flight requests, loaded versions).
pub fn render(handle: &PrometheusHandle, state: &AppState) -> String {
    let set = state.registry.current();
    let (mut open, mut in_use, mut waiting) = (0usize, 0usize, 0usize);
    let mut seen = std::collections::BTreeSet::new();
    for handler in set.handlers() {
        if !seen.insert(handler.name.clone()) {
            continue;
        }
        let usage = handler.db.usage();
        open += usage.open;
        in_use += usage.in_use;
        waiting += usage.waiting;
        let name = handler.name.to_string();
        metrics::gauge!("geofn_db_handler_connections", "handler" => name.clone(), "state" => "in_use")
            .set(usage.in_use as f64);
        metrics::gauge!("geofn_db_handler_connections", "handler" => name.clone(), "state" => "open")
            .set(usage.open as f64);
        metrics::gauge!("geofn_db_handler_connections_share", "handler" => name)
            .set(usage.share as f64);
    }
    metrics::gauge!("geofn_db_pool_connections", "state" => "open").set(open as f64);
    metrics::gauge!("geofn_db_pool_connections", "state" => "idle")
        .set(open.saturating_sub(in_use) as f64);
    metrics::gauge!("geofn_db_pool_connections", "state" => "in_use").set(in_use as f64);
    metrics::gauge!("geofn_db_pool_max_connections").set(state.databases().total_size() as f64);
    metrics::gauge!("geofn_db_pool_waiting").set(waiting as f64);
    metrics::gauge!("geofn_requests_in_flight").set(state.admission.in_flight() as f64);
    metrics::gauge!("geofn_requests_in_flight_limit").set(state.admission.limit() as f64);
    metrics::gauge!("geofn_memory_budget_bytes").set(state.budget().bytes() as f64);
    metrics::gauge!("geofn_memory_budget_reserved_bytes")
        .set(state.budget().reserved_bytes() as f64);
    metrics::gauge!("geofn_memory_budget_handler_share_bytes")
        .set(state.budget().share_bytes() as f64);
    let mut text = handle.render();
    // One series per loaded handler, rebuilt each scrape: a swapped-out
    // version disappears instead of lingering at a stale value.
    text.push_str("# HELP geofn_handler_info The handler versions being served.\n");
    text.push_str("# TYPE geofn_handler_info gauge\n");
    for handler in set.handlers() {
        let _ = writeln!(
            text,
            "geofn_handler_info{{handler=\"{}\",sha256=\"{}\"}} 1",
            handler.name, handler.sha256
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use super::status_class;

    #[test]
    fn statuses_collapse_to_classes() {
        assert_eq!(status_class(201), "2xx");
        assert_eq!(status_class(404), "4xx");
        assert_eq!(status_class(503), "5xx");
    }
}
