//! What the host tells operators: Prometheus metrics and OpenTelemetry
//! traces.
//!
//! A leaf: every other layer reports into it (counters and histograms as
//! events happen, gauges through scrape hooks its owners register), and it
//! reads no application state itself.
//!
//! - [`families`]: every metric's name and help text.
//! - [`metrics`]: the recorder, zeroed families, scrape hooks, the `/metrics` text.
//! - [`openmetrics`]: the same text as OpenMetrics, with [`exemplars`]:
//!   the trace of a recent request in each latency bucket.
//! - [`traces`]: the OTLP exporter the `OTEL_*` variables ask for, and
//!   continuing a caller's trace.
//! - [`sampler`]: which requests are traced (`OTEL_TRACES_SAMPLER`).
//! - [`sql`]: what a database span says about its statement.
//! - [`throttle`]: one log line a second for an event repeated under load.

#![deny(missing_docs)]

pub mod exemplars;
pub mod families;
pub mod metrics;
pub mod openmetrics;
pub mod sampler;
pub mod sql;
pub mod throttle;
pub mod traces;
