//! One request's use of the database: a pooled connection taken for each
//! call and handed back as soon as the call's rows are read, so that no
//! connection idles while a guest renders its answer. A session that left
//! state on its connection keeps it to the end of the request, and the
//! connection is reset before anyone else gets it.

use deadpool_postgres::{Object, Pool, PoolError};
use tokio_postgres::types::ToSql;

use super::bind::{Param, bind};
use super::decode::{pack_row, row_values};
use crate::bindings::{DbError, PackedRows, QueryFailure, Rows, Value};

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

/// What a dirty connection runs before it goes back to the pool. Prepared
/// statements are kept: they are the statement cache.
const RESET_SESSION: &str =
    "RESET ALL; SELECT pg_advisory_unlock_all(); CLOSE ALL; DISCARD TEMP; UNLISTEN *";

/// The database as one guest instance sees it.
pub struct DbSession {
    pool: Pool,
    client: Option<Object>,
    dirty: bool,
}

impl DbSession {
    /// A session that has not touched the pool yet.
    pub fn new(pool: Pool) -> Self {
        Self {
            pool,
            client: None,
            dirty: false,
        }
    }

    /// Runs a row-returning statement.
    pub async fn query(&mut self, sql: &str, params: Vec<Value>) -> Result<Rows, DbError> {
        let (client, statement, params) = self.prepare(sql, params).await?;
        let rows = client.query(&statement, &as_refs(&params)).await;
        self.release_if_clean();
        let rows = rows.map_err(failure)?;
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
        let (client, statement, params) = self.prepare(sql, params).await?;
        let rows = client.query(&statement, &as_refs(&params)).await;
        self.release_if_clean();
        let rows = rows.map_err(failure)?;
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
        let (client, statement, params) = self.prepare(sql, params).await?;
        let affected = client.execute(&statement, &as_refs(&params)).await;
        self.release_if_clean();
        affected.map_err(failure)
    }

    /// Hands the connection back to the pool unless this session left
    /// state on it (then [`Drop`] resets it first, at the end of the request).
    fn release_if_clean(&mut self) {
        if !self.dirty {
            self.client = None;
        }
    }

    async fn prepare(
        &mut self,
        sql: &str,
        params: Vec<Value>,
    ) -> Result<(&Object, tokio_postgres::Statement, Vec<Param>), DbError> {
        refuse_session_control(sql)?;
        if !self.dirty && leaves_session_state(sql) {
            self.dirty = true;
        }
        let client = self.client().await?;
        let statement = client.prepare_cached(sql).await.map_err(failure)?;
        let params = bind(statement.params(), params).map_err(DbError::BadParameter)?;
        Ok((client, statement, params))
    }

    async fn client(&mut self) -> Result<&Object, DbError> {
        if self.client.is_none() {
            let started = std::time::Instant::now();
            let client = self.pool.get().await;
            metrics::histogram!(crate::telemetry::metrics::POOL_WAIT)
                .record(started.elapsed().as_secs_f64());
            self.client = Some(client.map_err(unavailable)?);
        }
        Ok(self.client.as_ref().expect("set above"))
    }
}

impl Drop for DbSession {
    /// Hands a dirty connection to a task that resets it and only then
    /// returns it to the pool; if the reset fails the connection is closed.
    fn drop(&mut self) {
        let Some(client) = self.client.take() else {
            return;
        };
        if !self.dirty {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            drop(Object::take(client));
            return;
        };
        runtime.spawn(async move {
            if let Err(err) = client.batch_execute(RESET_SESSION).await {
                tracing::warn!(error = %err, "resetting a handler's session failed; closing it");
                drop(Object::take(client));
            }
        });
    }
}

fn leaves_session_state(sql: &str) -> bool {
    let lower = sql.to_ascii_lowercase();
    SESSION_STATE_MARKERS.iter().any(|m| lower.contains(m))
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

fn unavailable(err: PoolError) -> DbError {
    DbError::Unavailable(match err {
        PoolError::Timeout(_) => "no database connection became free in time".to_owned(),
        PoolError::Backend(e) => format!("cannot connect to the database: {e}"),
        other => other.to_string(),
    })
}

/// PostgreSQL's own errors become `query-failed`; a lost connection is
/// `unavailable` because a retry on a fresh connection may succeed.
fn failure(err: tokio_postgres::Error) -> DbError {
    match err.as_db_error() {
        Some(db) => DbError::QueryFailed(QueryFailure {
            code: db.code().code().to_owned(),
            message: db.message().to_owned(),
            constraint: db.constraint().map(str::to_owned),
        }),
        None if err.is_closed() => {
            DbError::Unavailable("the database connection was lost".to_owned())
        }
        None => DbError::Unavailable(err.to_string()),
    }
}

fn refuse_session_control(sql: &str) -> Result<(), DbError> {
    let keyword = first_keyword(sql);
    if SESSION_KEYWORDS
        .iter()
        .any(|k| k.eq_ignore_ascii_case(keyword))
    {
        return Err(DbError::Forbidden(format!(
            "{} is transaction or session control; each db call runs in its own \
             transaction on a shared connection",
            keyword.to_ascii_uppercase()
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
    fn session_control_is_refused() {
        assert!(matches!(
            refuse_session_control("/**/ SET search_path = x"),
            Err(DbError::Forbidden(_))
        ));
        assert!(refuse_session_control("select * from settings").is_ok());
        assert!(refuse_session_control("UPDATE t SET a = 1").is_ok());
    }
}
