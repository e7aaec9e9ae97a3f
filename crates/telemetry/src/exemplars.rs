//! Exemplars: for each latency bucket of each route, the trace of a
//! request that landed in it lately, so a dashboard can jump from a slow
//! bucket to the trace that explains it. Only sampled requests leave one
//! (a trace id that was never exported would lead nowhere), and only the
//! OpenMetrics text carries them ([`crate::openmetrics`]): Prometheus asks
//! for it when exemplar storage is on.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::metrics::LATENCY_BUCKETS;

/// A request that landed in a bucket: its trace, its value, when.
#[derive(Debug, Clone, PartialEq)]
pub struct Exemplar {
    /// The trace's id, 32 hex digits.
    pub trace_id: String,
    /// The observed value, seconds.
    pub value: f64,
    /// When it was observed, seconds since the epoch.
    pub timestamp: f64,
}

/// The labels an `geofn_http_request_duration_seconds` series has.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Series {
    /// The route template.
    pub route: String,
    /// The handler's name (`host` for the host's own routes).
    pub handler: String,
    /// The status class (`2xx`...).
    pub status: String,
}

/// The latest exemplar per series and bucket (the last bucket: `+Inf`).
type Table = HashMap<Series, Vec<Option<Exemplar>>>;

static TABLE: OnceLock<Mutex<Table>> = OnceLock::new();

/// Notes a sampled request's latency as the exemplar of its bucket.
pub fn record(series: Series, seconds: f64, trace_id: String) {
    let bucket = LATENCY_BUCKETS
        .iter()
        .position(|bound| seconds <= *bound)
        .unwrap_or(LATENCY_BUCKETS.len());
    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let mut table = TABLE
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let buckets = table
        .entry(series)
        .or_insert_with(|| vec![None; LATENCY_BUCKETS.len() + 1]);
    buckets[bucket] = Some(Exemplar {
        trace_id,
        value: seconds,
        timestamp,
    });
}

/// The exemplar of `series`' bucket whose upper bound is `le` (as the
/// text writes it: `0.005`, `+Inf`).
pub fn lookup(series: &Series, le: &str) -> Option<Exemplar> {
    let bucket = if le == "+Inf" {
        LATENCY_BUCKETS.len()
    } else {
        let bound: f64 = le.parse().ok()?;
        LATENCY_BUCKETS
            .iter()
            .position(|b| (*b - bound).abs() < 1e-12)?
    };
    let table = TABLE.get()?.lock().ok()?;
    table.get(series)?.get(bucket)?.clone()
}
