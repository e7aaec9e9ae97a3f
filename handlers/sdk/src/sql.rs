//! Turning `db` failures into the answers HTTP clients should get.

use crate::Response;
use crate::db::DbError;
use crate::http::Problem;
use crate::log;

/// Seconds a client should wait before retrying when the database is unavailable.
pub const RETRY_AFTER_SECS: u32 = 1;

/// The response for a failed database call: 503 with `Retry-After` when the
/// database is unreachable (a retry may well succeed), 500 otherwise. Details
/// go to the log, not to the client.
pub fn failure_response(context: &str, err: DbError) -> Response {
    match err {
        DbError::Unavailable(why) => {
            log::log(
                log::Level::Warn,
                &format!("{context}: database unavailable: {why}"),
            );
            Problem::new(
                503,
                "database-unavailable",
                "Database unavailable",
                "The database did not answer in time; retry shortly.",
            )
            .into_response()
            .with_header("retry-after", RETRY_AFTER_SECS.to_string())
        }
        other => {
            log::log(log::Level::Error, &format!("{context}: {other:?}"));
            Problem::new(
                500,
                "database-error",
                "Database error",
                format!("The database could not complete the request ({context})."),
            )
            .into_response()
        }
    }
}
