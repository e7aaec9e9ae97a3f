//! `db` calls whose failures are [`Error`]s, so `?` works in handler
//! functions, and results read by column name ([`Rows`]).

use crate::error::{Error, IntoResponse};
use crate::rows::Rows;
use crate::wit::Response;
use crate::wit::db::{self, Value};

pub use crate::error::RETRY_AFTER_SECS;

/// A row-returning statement.
pub fn query(sql: &str, params: &[Value]) -> Result<Rows, Error> {
    Ok(db::query(sql, params)?.into())
}

/// A row-returning statement's rows as one JSON array, rendered by the
/// host (an object per row, columns as members; see `db.query-json` in
/// `wit/handler.wit`): a listing's response body, as it is.
pub fn query_json(sql: &str, params: &[Value]) -> Result<Vec<u8>, Error> {
    Ok(db::query_json(sql, params)?)
}

/// A statement for its effect; rows affected.
pub fn execute(sql: &str, params: &[Value]) -> Result<u64, Error> {
    Ok(db::execute(sql, params)?)
}

/// Sends the rest of this request's statements to the primary database.
///
/// With a read replica on the host, a GET's queries run there and see data
/// as recent as its replication lag (a client always sees its own writes).
/// Call this first in a read that must see every client's latest commit.
/// Without a replica it does nothing.
pub fn use_primary() {
    db::use_primary();
}

/// The response for a failed database call (see [`Error`]'s conversion):
/// 503 with `Retry-After` when the database is unreachable, 500 otherwise;
/// `context` goes to the log.
pub fn failure_response(context: &str, err: db::DbError) -> Response {
    crate::wit::log::log(crate::wit::log::Level::Info, &format!("{context}: {err:?}"));
    Error::from(err).into_response()
}
