//! One request's use of the database: a connection of the handler's own
//! pool taken for each call and handed back as soon as the call's rows are
//! read, so that no connection idles while a guest renders its answer. A
//! session that left state on its connection keeps it to the end of the
//! request, and the connection is reset before anyone else gets it.
//!
//! A call that ends early (deadline, trap, the client gone, shutdown) drops
//! its future while the server may still be running the statement: the
//! connection is then cancelled and waited for before it can serve anyone
//! else ([`HandlerDb::recover`]), never handed back busy.

use std::sync::Arc;

use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;

use super::bind::{Param, bind};
use super::decode::{pack_row, row_values};
use super::handler_pools::{CheckoutError, Connection, HandlerDb};
use crate::bindings::{DbError, PackedRows, QueryFailure, Rows, Value};
use crate::telemetry::metrics as m;

/// Statements that would leave transaction or session state on a connection
/// other requests reuse; handlers get `db-error::forbidden` for them.
const SESSION_KEYWORDS: &[&str] = &[
    "BEGIN",
    "START",
    "COMMIT",
    "END",
    "ROLLBACK",
    "ABORT",
    "SAVEPOINT",
    "RELEASE",
    "PREPARE",
    "SET",
    "RESET",
    "LISTEN",
    "UNLISTEN",
    "DISCARD",
    "DEALLOCATE",
];

/// Statements that reach beyond the database's data: files and programs
/// on the server (`COPY`), server libraries (`LOAD`), other sessions and
/// the fleet's channel (`NOTIFY`). The handler's role is refused all of it
/// by PostgreSQL anyway; refusing them here first gives a clear error and
/// a second wall.
const OUTSIDE_KEYWORDS: &[&str] = &["COPY", "LOAD", "NOTIFY"];

/// Function names refused for the same reason, wherever they appear.
const OUTSIDE_FUNCTIONS: &[&str] = &["pg_notify"];

/// Fragments of statements that leave state behind on a connection beyond
/// the statement itself (settings, session-level advisory locks, temporary
/// tables, cursors). A session that ran one is reset before its connection
/// is reused. Data-only statements — nearly all — cost nothing extra.
const SESSION_STATE_MARKERS: &[&str] = &[
    "set_config",
    "pg_advisory_lock",
    "pg_try_advisory_lock",
    "temporary",
    "temp ",
    "declare",
];

/// The database as one guest instance sees it.
pub struct DbSession {
    db: Arc<HandlerDb>,
    connection: Option<Connection>,
    dirty: bool,
    /// A statement was sent and its answer not yet read: if the session is
    /// dropped now, the server is still running it.
    busy: bool,
}

impl DbSession {
    /// A session that has not touched the pool yet.
    pub fn new(db: Arc<HandlerDb>) -> Self {
        Self {
            db,
            connection: None,
            dirty: false,
            busy: false,
        }
    }

    /// Runs a row-returning statement.
    pub async fn query(&mut self, sql: &str, params: Vec<Value>) -> Result<Rows, DbError> {
        let (statement, params) = self.prepare(sql, params).await?;
        let client = self.client()?;
        let rows = client.query(&statement, &as_refs(&params)).await;
        self.finished();
        let rows = rows.map_err(|e| self.failure(e))?;
        let columns = column_names(&statement);
        let rows = rows.iter().map(row_values).collect::<Result<Vec<_>, _>>()?;
        Ok(Rows { columns, rows })
    }

    /// Runs a row-returning statement and packs its rows into one buffer.
    pub async fn query_packed(
        &mut self,
        sql: &str,
        params: Vec<Value>,
    ) -> Result<PackedRows, DbError> {
        let (statement, params) = self.prepare(sql, params).await?;
        let client = self.client()?;
        let rows = client.query(&statement, &as_refs(&params)).await;
        self.finished();
        let rows = rows.map_err(|e| self.failure(e))?;
        // A guess (a point row packs into about 60 bytes) that saves most regrowth.
        let mut cells = Vec::with_capacity(rows.len() * 64);
        for row in &rows {
            pack_row(row, &mut cells)?;
        }
        Ok(PackedRows {
            columns: column_names(&statement),
            count: u32::try_from(rows.len()).unwrap_or(u32::MAX),
            cells,
        })
    }

    /// Runs a statement for its effect; returns rows affected.
    pub async fn execute(&mut self, sql: &str, params: Vec<Value>) -> Result<u64, DbError> {
        let (statement, params) = self.prepare(sql, params).await?;
        let client = self.client()?;
        let affected = client.execute(&statement, &as_refs(&params)).await;
        self.finished();
        affected.map_err(|e| self.failure(e))
    }

    /// The call's answer is in: hand the connection back to the pool
    /// unless this session left state on it (then [`Drop`] resets it
    /// first, at the end of the request).
    fn finished(&mut self) {
        self.busy = false;
        if !self.dirty {
            self.connection = None;
        }
    }

    /// Checks `sql`, checks a connection out if the session has none, and
    /// prepares the statement and binds `params` on it.
    async fn prepare(
        &mut self,
        sql: &str,
        params: Vec<Value>,
    ) -> Result<(tokio_postgres::Statement, Vec<Param>), DbError> {
        refuse(sql)?;
        if !self.dirty && leaves_session_state(sql) {
            self.dirty = true;
        }
        let connection = match self.connection.take() {
            Some(connection) => connection,
            None => self.db.checkout().await.map_err(unavailable)?,
        };
        // From here until `finished`, dropping this future leaves a
        // statement (or its preparation) running on the server.
        self.busy = true;
        let client = &self.connection.insert(connection).client;
        let statement = match client.prepare_cached(sql).await {
            Ok(statement) => statement,
            Err(err) => {
                self.busy = false;
                if !self.dirty {
                    self.connection = None;
                }
                return Err(failure(&self.db, err));
            }
        };
        let params = match bind(statement.params(), params) {
            Ok(params) => params,
            Err(why) => {
                self.busy = false;
                if !self.dirty {
                    self.connection = None;
                }
                return Err(DbError::BadParameter(why));
            }
        };
        Ok((statement, params))
    }

    /// The connection [`prepare`](Self::prepare) checked out.
    fn client(&self) -> Result<&deadpool_postgres::Object, DbError> {
        self.connection
            .as_ref()
            .map(|connection| &connection.client)
            .ok_or_else(|| DbError::Unavailable("no database connection is checked out".into()))
    }

    fn failure(&self, err: tokio_postgres::Error) -> DbError {
        failure(&self.db, err)
    }
}

impl Drop for DbSession {
    /// A connection still running a statement, or left with session state,
    /// goes to a task that cancels and resets it and only then returns it
    /// to the pool (or closes it).
    fn drop(&mut self) {
        let Some(connection) = self.connection.take() else {
            return;
        };
        if !self.busy && !self.dirty {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            drop(deadpool_postgres::Object::take(connection.client));
            return;
        };
        let (db, busy, dirty) = (self.db.clone(), self.busy, self.dirty);
        runtime.spawn(async move { db.recover(connection, busy, dirty).await });
    }
}

/// Whether `sql` may leave state on its connection: one of the markers, or
/// an anonymous code block (which can run anything).
fn leaves_session_state(sql: &str) -> bool {
    let lower = sql.to_ascii_lowercase();
    first_keyword(sql).eq_ignore_ascii_case("DO")
        || SESSION_STATE_MARKERS.iter().any(|m| lower.contains(m))
}

fn column_names(statement: &tokio_postgres::Statement) -> Vec<String> {
    statement
        .columns()
        .iter()
        .map(|c| c.name().to_owned())
        .collect()
}

fn as_refs(params: &[Param]) -> Vec<&(dyn ToSql + Sync)> {
    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect()
}

fn unavailable(err: CheckoutError) -> DbError {
    DbError::Unavailable(err.to_string())
}

/// PostgreSQL's own errors become `query-failed`; a lost connection is
/// `unavailable` because a retry on a fresh connection may succeed.
fn failure(handler: &HandlerDb, err: tokio_postgres::Error) -> DbError {
    match err.as_db_error() {
        Some(db) => {
            if *db.code() == SqlState::QUERY_CANCELED && db.message().contains("statement timeout")
            {
                metrics::counter!(m::DB_STATEMENT_TIMEOUTS, "handler" => handler.handler().to_string())
                    .increment(1);
            }
            DbError::QueryFailed(QueryFailure {
                code: db.code().code().to_owned(),
                message: db.message().to_owned(),
                constraint: db.constraint().map(str::to_owned),
            })
        }
        None if err.is_closed() => {
            DbError::Unavailable("the database connection was lost".to_owned())
        }
        None => DbError::Unavailable(err.to_string()),
    }
}

/// Refuses session control and statements that reach beyond the data.
fn refuse(sql: &str) -> Result<(), DbError> {
    let keyword = first_keyword(sql);
    let is = |list: &[&str]| list.iter().any(|k| k.eq_ignore_ascii_case(keyword));
    if is(SESSION_KEYWORDS) {
        return Err(DbError::Forbidden(format!(
            "{} is transaction or session control; each db call runs in its own \
             transaction on a shared connection",
            keyword.to_ascii_uppercase()
        )));
    }
    if is(OUTSIDE_KEYWORDS) {
        return Err(DbError::Forbidden(format!(
            "{} reaches beyond the handler's tables; handlers may not run it",
            keyword.to_ascii_uppercase()
        )));
    }
    let lower = sql.to_ascii_lowercase();
    if let Some(function) = OUTSIDE_FUNCTIONS.iter().find(|f| lower.contains(*f)) {
        return Err(DbError::Forbidden(format!(
            "{function} reaches beyond the handler's tables; handlers may not call it"
        )));
    }
    Ok(())
}

/// The first word of a statement, after whitespace and comments.
fn first_keyword(sql: &str) -> &str {
    let mut rest = sql;
    loop {
        rest = rest.trim_start();
        if let Some(after) = rest.strip_prefix("--") {
            rest = after.split_once('\n').map_or("", |(_, tail)| tail);
        } else if let Some(after) = rest.strip_prefix("/*") {
            rest = after.split_once("*/").map_or("", |(_, tail)| tail);
        } else {
            break;
        }
    }
    let end = rest
        .find(|c: char| !c.is_ascii_alphabetic())
        .unwrap_or(rest.len());
    &rest[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_keyword_skips_comments() {
        assert_eq!(first_keyword("  -- hi\n /* x */ begin;"), "begin");
        assert_eq!(first_keyword("SELECT 1"), "SELECT");
        assert_eq!(first_keyword(""), "");
    }

    #[test]
    fn session_state_is_spotted() {
        assert!(leaves_session_state("SELECT set_config('a', 'b', false)"));
        assert!(leaves_session_state("select PG_ADVISORY_LOCK(1)"));
        assert!(leaves_session_state("CREATE TEMP TABLE t (a int)"));
        assert!(!leaves_session_state("SELECT pg_advisory_xact_lock(1)"));
        assert!(!leaves_session_state(
            "INSERT INTO points (name) VALUES ($1)"
        ));
    }

    #[test]
    fn session_control_and_the_outside_are_refused() {
        for sql in [
            "/**/ SET search_path = x",
            "copy (select 1) to program 'id'",
            "NOTIFY geofn_handlers",
            "SELECT PG_NOTIFY('geofn_handlers', 'x')",
            "LOAD 'plugin'",
        ] {
            assert!(matches!(refuse(sql), Err(DbError::Forbidden(_))), "{sql}");
        }
        assert!(refuse("select * from settings").is_ok());
        assert!(refuse("UPDATE t SET a = 1").is_ok());
        assert!(refuse("SELECT copy_count FROM loads").is_ok());
    }
}
