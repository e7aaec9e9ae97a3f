//! A statement's rows, read only while they fit a cap: the handler's
//! memory. Rows that could never reach the guest are not gathered in the
//! host, where one hostile `SELECT repeat(...)` would otherwise take
//! gigabytes; the caller abandons the statement (its connection is then
//! cancelled and settled, as after a deadline).

use futures_util::TryStreamExt;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Row, Statement};

use crate::value::{DbError, QueryFailure};

/// The rows of a statement, or word that they passed the cap.
pub enum Collected {
    /// Every row, within the cap.
    All(Vec<Row>),
    /// The cap was passed; the rest is unread and the statement still running.
    TooLarge,
}

/// Runs `statement` and gathers its rows while their size, as PostgreSQL
/// sends them, stays within `cap` bytes.
pub async fn collect(
    client: &deadpool_postgres::Object,
    statement: &Statement,
    params: &[&(dyn ToSql + Sync)],
    cap: usize,
) -> Result<Collected, tokio_postgres::Error> {
    let stream = client.query_raw(statement, params.iter().copied()).await?;
    futures_util::pin_mut!(stream);
    let mut rows = Vec::new();
    let mut bytes = 0usize;
    while let Some(row) = stream.try_next().await? {
        bytes = bytes.saturating_add(row.raw_size_bytes());
        if bytes > cap {
            return Ok(Collected::TooLarge);
        }
        rows.push(row);
    }
    Ok(Collected::All(rows))
}

/// What the handler is told: PostgreSQL's own code for a limit passed,
/// and how to stay under it.
pub fn too_large(cap: usize) -> DbError {
    DbError::QueryFailed(QueryFailure {
        code: SqlState::PROGRAM_LIMIT_EXCEEDED.code().to_owned(),
        message: format!(
            "the statement's rows passed {} MiB, more than the handler's memory \
             can take; ask for fewer at a time (LIMIT, keyset paging)",
            cap >> 20
        ),
        constraint: None,
    })
}
