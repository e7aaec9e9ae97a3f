//! What a handler is told when PostgreSQL or the pool fails it.

use tokio_postgres::error::SqlState;

use crate::handler_pools::{CheckoutError, HandlerDb};
use crate::replica::Fallback;
use crate::value::{DbError, QueryFailure};
use geofn_telemetry::metrics as m;

/// Whether a replica's connection failed because it was opened before the
/// replica had replayed everything about the handler's role (its search
/// path, its schema, its grants): a new connection will know them.
pub(super) fn behind_its_role(err: &tokio_postgres::Error) -> bool {
    err.code()
        .and_then(|code| Fallback::for_sqlstate(code.code()))
        == Some(Fallback::SchemaBehind)
}

pub(super) fn unavailable(err: CheckoutError) -> DbError {
    DbError::Unavailable(err.to_string())
}

/// PostgreSQL's own errors become `query-failed`; a lost connection is
/// `unavailable` because a retry on a fresh connection may succeed.
pub(super) fn failure(handler: &HandlerDb, err: tokio_postgres::Error) -> DbError {
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
