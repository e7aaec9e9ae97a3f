//! One guest call into the database as operators see it: its latency in
//! the metrics, a log line at TRACE (DEBUG when it failed), and, when
//! traces are exported, a CLIENT span with OpenTelemetry's database names
//! (`db.system.name`, `db.operation.name`, `db.query.summary`,
//! `db.query.text` with literals masked, rows) plus how long it waited for
//! a pooled connection and whether it ran on the replica.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::field::Empty;

use geofn_db::session::{CallFacts, DbSession};
use geofn_telemetry::metrics::DB_QUERY;
use geofn_telemetry::{sql, traces};

use crate::bindings::{DbError, PackedRows, Rows};
use crate::variables::HandlerVariables;

/// A call under way: started when the guest asked.
pub(crate) struct DbCall {
    started: Instant,
    span: tracing::Span,
}

impl DbCall {
    /// Starts timing `sql`; its span (a child of the handler's) exists only
    /// when traces are exported.
    pub(crate) fn start(sql: &str) -> Self {
        let span = tracing::info_span!(
            target: traces::TARGET,
            "db",
            otel.name = Empty,
            otel.kind = "client",
            db.system.name = "postgresql",
            db.operation.name = Empty,
            db.query.summary = Empty,
            db.query.text = Empty,
            db.response.returned_rows = Empty,
            geofn.db.affected_rows = Empty,
            geofn.db.pool_wait_ms = Empty,
            geofn.db.replica = Empty,
            otel.status_code = Empty,
            otel.status_description = Empty,
        );
        if !span.is_disabled() {
            let summary = sql::summary(sql);
            span.record("db.operation.name", sql::operation(sql));
            span.record("db.query.text", &*sql::masked(sql));
            span.record("otel.name", &summary);
            span.record("db.query.summary", summary);
        }
        Self {
            started: Instant::now(),
            span,
        }
    }

    /// Records the call's latency as `call` for `handler`, and ends its span
    /// with what `session` says it waited for and the rows or error (a
    /// database error may quote a value: `variables`' secrets are cut out).
    /// Returns how long the call took.
    pub(crate) fn finish<T: Counted>(
        self,
        handler: &Arc<str>,
        variables: &HandlerVariables,
        call: &'static str,
        sql: &str,
        session: &mut DbSession,
        result: Result<&T, &DbError>,
    ) -> Duration {
        let took = self.started.elapsed();
        metrics::histogram!(DB_QUERY, "handler" => handler.clone(), "call" => call)
            .record(took.as_secs_f64());
        let facts = session.take_facts();
        match result {
            Ok(_) => tracing::trace!(
                handler.name = &**handler,
                db.statement = &*variables.redact(sql),
                "db call"
            ),
            Err(err) => {
                let error = variables.redact(&format!("{err:?}")).into_owned();
                let sql = variables.redact(sql);
                tracing::debug!(
                    handler.name = &**handler,
                    db.statement = &*sql,
                    error,
                    "db call failed"
                );
            }
        }
        if !self.span.is_disabled() {
            self.close_span(facts, result, variables);
        }
        took
    }

    fn close_span<T: Counted>(
        &self,
        facts: CallFacts,
        result: Result<&T, &DbError>,
        variables: &HandlerVariables,
    ) {
        let span = &self.span;
        span.record("geofn.db.pool_wait_ms", facts.pool_wait.as_secs_f64() * 1e3);
        span.record("geofn.db.replica", facts.on_replica);
        match result {
            Ok(value) => match facts
                .rendered_rows
                .map_or_else(|| value.count(), Count::Returned)
            {
                Count::Returned(rows) => {
                    span.record("db.response.returned_rows", rows);
                }
                Count::Affected(rows) => {
                    span.record("geofn.db.affected_rows", rows);
                }
                Count::None => {}
            },
            Err(err) => {
                span.record("otel.status_code", "error");
                let error = format!("{err:?}");
                span.record("otel.status_description", &*variables.redact(&error));
            }
        }
    }
}

/// How many rows a call's answer holds, for its span.
pub(crate) enum Count {
    Returned(u64),
    Affected(u64),
    None,
}

/// Answers that know their row count.
pub(crate) trait Counted {
    fn count(&self) -> Count;
}

impl Counted for Rows {
    fn count(&self) -> Count {
        Count::Returned(self.rows.len() as u64)
    }
}

impl Counted for PackedRows {
    fn count(&self) -> Count {
        Count::Returned(u64::from(self.count))
    }
}

/// Rows rendered as one JSON array: the session counted them as it
/// rendered ([`CallFacts::rendered_rows`]), so the bytes say nothing here.
impl Counted for Vec<u8> {
    fn count(&self) -> Count {
        Count::None
    }
}

/// `execute`: rows affected.
impl Counted for u64 {
    fn count(&self) -> Count {
        Count::Affected(*self)
    }
}

impl Counted for () {
    fn count(&self) -> Count {
        Count::None
    }
}
