//! Every metric family the host exports: its name, its `# HELP` text, and
//! the label values its counters start with at zero. Names follow
//! Prometheus' conventions (`_total`, `_seconds`, `_bytes`).

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
/// From a change seen to the handler set serving it, seconds.
pub const SWAP_SECONDS: &str = "geofn_handler_swap_seconds";
/// The same, by `phase` (settle, snapshot, compile, database, assemble).
pub const SWAP_PHASE_SECONDS: &str = "geofn_handler_swap_phase_seconds";
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
/// Requests whose guest computed past its CPU grace and was throttled to
/// a twentieth of a core, by `handler`: a runaway, or a grace too short.
pub const THROTTLED: &str = "geofn_handler_throttled_total";
/// Handlers' outbound HTTP calls, by `handler`, `host` (the allow-list
/// entry that let it out, or `denied`) and `outcome` (status class,
/// `denied`, `error`, `timeout`).
pub const OUTBOUND_REQUESTS: &str = "geofn_outbound_requests_total";
/// Outbound calls' time to the answer's head, by `handler` and `host`.
pub const OUTBOUND_DURATION: &str = "geofn_outbound_request_duration_seconds";
/// Schedule ticks this replica ran, by `handler`, `schedule`, `outcome`
/// (`ok`, `failed`).
pub const SCHEDULE_RUNS: &str = "geofn_schedule_runs_total";
/// How long a schedule's tick took, by `handler` and `schedule`.
pub const SCHEDULE_DURATION: &str = "geofn_schedule_run_duration_seconds";
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
/// Handler requests waiting for a slot now.
pub const ADMISSION_QUEUED: &str = "geofn_admission_queued";
/// How long a request that found every slot taken waited for one.
pub const ADMISSION_WAIT: &str = "geofn_admission_wait_seconds";
/// The memory budget.
pub const MEMORY_BUDGET: &str = "geofn_memory_budget_bytes";
/// The memory budget held by live instances.
pub const MEMORY_RESERVED: &str = "geofn_memory_budget_reserved_bytes";
/// What one handler's instances may hold of the budget.
pub const MEMORY_SHARE: &str = "geofn_memory_budget_handler_share_bytes";

/// Requests refused by the host's token check before their handler ran, by
/// `handler` and `reason`.
pub const AUTH_REFUSED: &str = "geofn_auth_refusals_total";
/// Bearer tokens accepted, by `how`: `signature` (verified now) or
/// `cached` (verified before).
pub const AUTH_VERIFIED: &str = "geofn_auth_tokens_verified_total";
/// Loads of the issuer's keys, by `result` (ok, failed).
pub const AUTH_KEY_REFRESHES: &str = "geofn_auth_key_refreshes_total";
/// Keys of the issuer this host can verify with.
pub const AUTH_KEYS: &str = "geofn_auth_keys";

/// Components asked of a registry, by `result`: `pulled`, `cached`, or why
/// not (`unreachable`, `denied`, `not-found`, `digest-mismatch`, `layout`,
/// `too-large`, ...).
pub const OCI_PULLS: &str = "geofn_oci_pulls_total";

/// One series per handler version served, rebuilt at every scrape, by
/// `handler` and `sha256`.
pub const HANDLER_INFO: &str = "geofn_handler_info";
/// Its `# HELP` text.
pub const HANDLER_INFO_HELP: &str = "The handler versions being served.";

/// Every family with its `# HELP` text: what `describe_*` registers.
pub(crate) const COUNTERS: &[(&str, &str)] = &[
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
        THROTTLED,
        "Requests whose guest computed past its CPU grace (cpu_grace_ms, time in database calls not counted) and was throttled to a twentieth of a core, by handler.",
    ),
    (
        FLEET_NOTIFICATIONS_IGNORED,
        "Notifications on the fleet channel that no host signed, ignored.",
    ),
    (
        SCHEDULE_RUNS,
        "Schedule ticks this replica ran (each tick runs on one replica of the fleet), by handler, schedule and outcome (ok, failed).",
    ),
    (
        OUTBOUND_REQUESTS,
        "Handlers' outbound HTTP calls, by handler, allowed host (or denied) and outcome (status class, denied, error, timeout).",
    ),
    (
        READS,
        "Statements of GET and HEAD requests, by the server that ran them (primary, replica).",
    ),
    (
        READ_FALLBACKS,
        "Reads sent to the primary instead of the read replica, by reason.",
    ),
    (
        AUTH_REFUSED,
        "Requests refused by the token check before their handler ran, by handler and reason.",
    ),
    (
        AUTH_VERIFIED,
        "Bearer tokens accepted, by how: signature (verified now) or cached.",
    ),
    (
        AUTH_KEY_REFRESHES,
        "Loads of the token issuer's keys, by result.",
    ),
    (
        OCI_PULLS,
        "Components asked of an OCI registry, by result (pulled, cached, or why not).",
    ),
];
pub(crate) const GAUGES: &[(&str, &str)] = &[
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
        ADMISSION_QUEUED,
        "Handler requests waiting for a slot (bounded by what can start within --queue-wait-ms).",
    ),
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
        AUTH_KEYS,
        "Keys of the token issuer this host can verify with.",
    ),
    (
        REPLICA_LAG,
        "How far behind the primary the read replica was at its last poll, in seconds.",
    ),
];
pub(crate) const HISTOGRAMS: &[(&str, &str)] = &[
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
    (
        SCHEDULE_DURATION,
        "How long a schedule's tick took, by handler and schedule.",
    ),
    (
        ADMISSION_WAIT,
        "How long requests that found every slot taken waited, admitted or refused.",
    ),
    (
        SWAP_SECONDS,
        "Time from a change seen (file event, poll, fleet notification) to the handler set serving it.",
    ),
    (
        SWAP_PHASE_SECONDS,
        "The same swaps, by phase: settle, snapshot, compile, database, assemble.",
    ),
    (
        OUTBOUND_DURATION,
        "Handlers' outbound HTTP calls, time to the answer's head, by handler and allowed host.",
    ),
];

/// Counters that count per handler: registered at zero for every loaded
/// handler, so that `rate()` and alerts work before the first event.
pub(crate) const PER_HANDLER_COUNTERS: &[&str] = &[
    DB_SHARE_EXHAUSTED,
    DB_CANCELLATIONS,
    DB_RESULTS_TOO_LARGE,
    DB_STATEMENT_TIMEOUTS,
    MEMORY_REJECTED,
    CONCURRENCY_REJECTED,
    THROTTLED,
];
/// Status classes a route's request counter starts with.
pub(crate) const STATUS_CLASSES: &[&str] = &["2xx", "4xx", "5xx"];
