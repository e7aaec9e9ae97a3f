//! Handler functions return `Result<impl IntoResponse, Error>`, so `?` works
//! on everything that can fail and every failure renders as a problem
//! document.

use serde::Serialize;

use crate::http::{self, Problem};
use crate::packed::Malformed;
use crate::wit::Response;
use crate::wit::db::DbError;
use crate::wit::log;

/// Seconds a client should wait before retrying when the database is unavailable.
pub const RETRY_AFTER_SECS: u32 = 1;

/// A failure, as the client will see it: a problem document (and, for a
/// database that did not answer, `Retry-After`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    problem: Problem,
    retry_after: Option<u32>,
}

/// What handler functions return.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A 400 naming the parameter or field at fault.
    pub fn bad_parameter(parameter: &str, detail: impl Into<String>) -> Self {
        Problem::bad_parameter(parameter, detail).into()
    }

    /// A 404.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Problem::not_found(detail).into()
    }

    /// Any other problem, of kind `urn:geofn:problem:{slug}`.
    pub fn new(status: u16, slug: &str, title: &str, detail: impl Into<String>) -> Self {
        Problem::new(status, slug, title, detail).into()
    }

    /// The problem document.
    pub fn problem(&self) -> &Problem {
        &self.problem
    }
}

impl From<Problem> for Error {
    fn from(problem: Problem) -> Self {
        Self {
            problem,
            retry_after: None,
        }
    }
}

/// Database failures: 503 with `Retry-After` when no connection could be
/// had (a retry may well succeed), 409 for a unique or foreign-key
/// violation, 500 otherwise. What PostgreSQL said goes to the log, not to
/// the client.
impl From<DbError> for Error {
    fn from(err: DbError) -> Self {
        match err {
            DbError::Unavailable(why) => {
                log::log(log::Level::Warn, &format!("database unavailable: {why}"));
                Self {
                    problem: Problem::new(
                        503,
                        "database-unavailable",
                        "Database unavailable",
                        "The database did not answer in time; retry shortly.",
                    ),
                    retry_after: Some(RETRY_AFTER_SECS),
                }
            }
            DbError::QueryFailed(failure) if matches!(failure.code.as_str(), "23505" | "23503") => {
                Problem::new(
                    409,
                    "conflict",
                    "Conflict",
                    failure
                        .constraint
                        .map(|c| format!("the request conflicts with what is stored ({c})"))
                        .unwrap_or_else(|| "the request conflicts with what is stored".into()),
                )
                .into()
            }
            other => {
                log::log(
                    log::Level::Error,
                    &format!("database call failed: {other:?}"),
                );
                Problem::new(
                    500,
                    "database-error",
                    "Database error",
                    "The database could not complete the request.",
                )
                .into()
            }
        }
    }
}

impl From<Malformed> for Error {
    fn from(err: Malformed) -> Self {
        log::log(log::Level::Error, &err.to_string());
        Problem::new(
            500,
            "internal",
            "Internal error",
            "rows of an unexpected shape",
        )
        .into()
    }
}

/// What a handler function may answer with.
pub trait IntoResponse {
    /// The HTTP response.
    fn into_response(self) -> Response;
}

impl IntoResponse for Response {
    fn into_response(self) -> Response {
        self
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        Problem::into_response(self)
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let response = self.problem.into_response();
        match self.retry_after {
            Some(secs) => response.with_header("retry-after", secs.to_string()),
            None => response,
        }
    }
}

/// A JSON body with status 200.
#[derive(Debug, Clone)]
pub struct Json<T>(pub T);

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        http::json(200, &self.0)
    }
}

/// The same answer with another status: `(201, Json(point))`.
impl<R: IntoResponse> IntoResponse for (u16, R) {
    fn into_response(self) -> Response {
        let mut response = self.1.into_response();
        response.status = self.0;
        response
    }
}

impl<R: IntoResponse> IntoResponse for Result<R> {
    fn into_response(self) -> Response {
        match self {
            Ok(answer) => answer.into_response(),
            Err(err) => err.into_response(),
        }
    }
}
