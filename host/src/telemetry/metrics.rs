//! Prometheus metrics through the `metrics` facade. Labels are bounded:
//! route templates (never raw paths), handler names from the manifest,
//! status classes, and rejection reasons from a fixed list.

use std::fmt::Write;
use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::registry::HandlerSet;
use crate::registry::manifest::parse_route;
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
/// Statements refused because their rows passed the handler's memory, by `handler`.
pub const DB_RESULTS_TOO_LARGE: &str = "geofn_db_results_too_large_total";
/// Statements the server ended at the handler's `statement_timeout`, by `handler`.
pub const DB_STATEMENT_TIMEOUTS: &str = "geofn_db_statement_timeouts_total";
/// Requests turned away because the memory budget had no room, by `handler`.
pub const MEMORY_REJECTED: &str = "geofn_memory_budget_rejected_total";
/// Requests turned away because their handler ran `max_concurrency`
/// requests for longer than the wait, by `handler`.
pub const CONCURRENCY_REJECTED: &str = "geofn_concurrency_rejected_total";
/// Notifications on the fleet channel that no host signed.
pub const FLEET_NOTIFICATIONS_IGNORED: &str = "geofn_fleet_notifications_ignored_total";
/// Read requests' statements, by `target` (primary, replica).
pub const READS: &str = "geofn_db_reads_total";
/// Read requests or statements sent to the primary instead of the
/// replica, by `reason`.
pub const READ_FALLBACKS: &str = "geofn_db_read_fallbacks_total";
/// 1 while the read replica answers its polls.
pub const REPLICA_UP: &str = "geofn_db_replica_up";
/// How far behind the primary the read replica was at its last poll.
pub const REPLICA_LAG: &str = "geofn_db_replica_lag_seconds";
/// Handler connections, all handlers together, by `state` (open, idle, in_use).
pub const POOL_CONNECTIONS: &str = "geofn_db_pool_connections";
/// Handler connections all handlers together may hold (`--pool-size`).
pub const POOL_MAX: &str = "geofn_db_pool_max_connections";
/// Requests waiting for a connection, all handlers together.
pub const POOL_WAITING: &str = "geofn_db_pool_waiting";
/// One handler's connections, by `handler` and `state` (open, in_use).
pub const HANDLER_CONNECTIONS: &str = "geofn_db_handler_connections";
/// One handler's share of the pool, by `handler`.
pub const HANDLER_SHARE: &str = "geofn_db_handler_connections_share";
/// Handler requests running now.
pub const IN_FLIGHT: &str = "geofn_requests_in_flight";
/// The admission bound (`--max-in-flight`).
pub const IN_FLIGHT_LIMIT: &str = "geofn_requests_in_flight_limit";
/// The memory budget.
pub const MEMORY_BUDGET: &str = "geofn_memory_budget_bytes";
/// The memory budget held by live instances.
pub const MEMORY_RESERVED: &str = "geofn_memory_budget_reserved_bytes";
/// What one handler's instances may hold of the budget.
pub const MEMORY_SHARE: &str = "geofn_memory_budget_handler_share_bytes";

/// Every family with its `# HELP` text: what `describe_*` registers.
const COUNTERS: &[(&str, &str)] = &[
    (
        HTTP_REQUESTS,
        "Requests answered, by route template, handler and status class.",
    ),
    (SWAPS_APPLIED, "Handler sets swapped in while serving."),
    (
        SWAPS_REJECTED,
        "Handler reloads rejected (the running set kept), by reason.",
    ),
    (
        ADMISSION_REJECTED,
        "Requests refused at once because --max-in-flight were running.",
    ),
    (
        DB_SHARE_EXHAUSTED,
        "Requests whose handler held its whole share of the database pool for the whole wait, by handler.",
    ),
    (
        DB_CANCELLATIONS,
        "Statements cancelled on the server because their call ended first, by handler.",
    ),
    (
        DB_RESULTS_TOO_LARGE,
        "Statements refused, their rows left unread, because the rows passed the handler's memory limit, by handler.",
    ),
    (
        DB_STATEMENT_TIMEOUTS,
        "Statements the server ended at the handler's statement_timeout, by handler.",
    ),
    (
        MEMORY_REJECTED,
        "Requests refused because the memory budget had no room, by handler.",
    ),
    (
        CONCURRENCY_REJECTED,
        "Requests refused because their handler's max_concurrency stayed full, by handler.",
    ),
    (
        FLEET_NOTIFICATIONS_IGNORED,
        "Notifications on the fleet channel that no host signed, ignored.",
    ),
    (
        READS,
        "Statements of GET and HEAD requests, by the server that ran them (primary, replica).",
    ),
    (
        READ_FALLBACKS,
        "Reads sent to the primary instead of the read replica, by reason.",
    ),
];
const GAUGES: &[(&str, &str)] = &[
    (
        POOL_CONNECTIONS,
        "Handler database connections, all handlers together, by state.",
    ),
    (
        POOL_MAX,
        "Handler database connections all handlers together may hold.",
    ),
    (POOL_WAITING, "Requests waiting for a database connection."),
    (
        HANDLER_CONNECTIONS,
        "One handler's database connections, by state.",
    ),
    (
        HANDLER_SHARE,
        "One handler's share of the database pool, in connections.",
    ),
    (IN_FLIGHT, "Handler requests running now."),
    (IN_FLIGHT_LIMIT, "Handler requests that may run at once."),
    (
        MEMORY_BUDGET,
        "Memory the instances alive at once may have, by their limits.",
    ),
    (
        MEMORY_RESERVED,
        "Memory reserved by the instances alive now.",
    ),
    (MEMORY_SHARE, "Memory one handler's instances may reserve."),
    (
        REPLICA_UP,
        "1 while the read replica answers its polls, else 0.",
    ),
    (
        REPLICA_LAG,
        "How far behind the primary the read replica was at its last poll, in seconds.",
    ),
];
const HISTOGRAMS: &[(&str, &str)] = &[
    (
        HTTP_DURATION,
        "Request latency, by route template, handler and status class.",
    ),
    (
        INSTANTIATE,
        "Time to instantiate a handler component for one request.",
    ),
    (
        POOL_WAIT,
        "Time a request waited for a database connection, by handler.",
    ),
    (
        DB_QUERY,
        "Latency of a handler's database call, by handler and call.",
    ),
];

/// Counters that count per handler: registered at zero for every loaded
/// handler, so that `rate()` and alerts work before the first event.
const PER_HANDLER_COUNTERS: &[&str] = &[
    DB_SHARE_EXHAUSTED,
    DB_CANCELLATIONS,
    DB_RESULTS_TOO_LARGE,
    DB_STATEMENT_TIMEOUTS,
    MEMORY_REJECTED,
    CONCURRENCY_REJECTED,
];
/// Status classes a route's request counter starts with.
const STATUS_CLASSES: &[&str] = &["2xx", "4xx", "5xx"];

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
        .clone()
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
    for &reason in crate::db::replica::Fallback::LABELS {
        metrics::counter!(READ_FALLBACKS, "reason" => reason).increment(0);
    }
    for &reason in crate::registry::LoadError::REASONS {
        metrics::counter!(SWAPS_REJECTED, "reason" => reason).increment(0);
    }
    for route in ["/status", "/livez", "/metrics", "/"] {
        zero_requests(route, "host");
    }
}

/// Registers at zero the counters of every handler of `set` and of its
/// routes (counters already running keep their counts).
pub fn register_handlers(set: &HandlerSet) {
    for handler in set.handlers() {
        let name = handler.name.to_string();
        for &counter in PER_HANDLER_COUNTERS {
            metrics::counter!(counter, "handler" => name.clone()).increment(0);
        }
        for route in &handler.routes {
            if let Some(route) = parse_route(route) {
                zero_requests(&route.path, &name);
            }
        }
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
        let usage = handler.db.primary.usage();
        open += usage.open;
        in_use += usage.in_use;
        waiting += usage.waiting;
        let name = handler.name.to_string();
        metrics::gauge!(HANDLER_CONNECTIONS, "handler" => name.clone(), "state" => "in_use")
            .set(usage.in_use as f64);
        metrics::gauge!(HANDLER_CONNECTIONS, "handler" => name.clone(), "state" => "open")
            .set(usage.open as f64);
        metrics::gauge!(HANDLER_SHARE, "handler" => name).set(usage.share as f64);
    }
    metrics::gauge!(POOL_CONNECTIONS, "state" => "open").set(open as f64);
    metrics::gauge!(POOL_CONNECTIONS, "state" => "idle").set(open.saturating_sub(in_use) as f64);
    metrics::gauge!(POOL_CONNECTIONS, "state" => "in_use").set(in_use as f64);
    metrics::gauge!(POOL_MAX).set(state.databases().total_size() as f64);
    metrics::gauge!(POOL_WAITING).set(waiting as f64);
    metrics::gauge!(IN_FLIGHT).set(state.admission.in_flight() as f64);
    metrics::gauge!(IN_FLIGHT_LIMIT).set(state.admission.limit() as f64);
    metrics::gauge!(MEMORY_BUDGET).set(state.budget().bytes() as f64);
    metrics::gauge!(MEMORY_RESERVED).set(state.budget().reserved_bytes() as f64);
    metrics::gauge!(MEMORY_SHARE).set(state.budget().share_bytes() as f64);
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
