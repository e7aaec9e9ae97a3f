//! RFC 9457 problem documents: every error the host itself answers.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, Method, StatusCode, header};

/// Media type of problem documents.
pub const PROBLEM_JSON: &str = geofn_contract::problem::CONTENT_TYPE;

/// An error answer: the problem document (`geofn_contract::problem`, the
/// same type handlers answer with) and the headers some answers need.
/// `detail` is for humans and never carries internals (those go to the log).
#[derive(Debug, Clone)]
pub struct Problem {
    document: geofn_contract::problem::Problem,
    retry_after_secs: Option<u32>,
    allow: Option<String>,
}

impl Problem {
    /// A problem of kind `urn:geofn:problem:{slug}`.
    pub fn new(
        status: StatusCode,
        slug: &str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            document: geofn_contract::problem::Problem::new(status.as_u16(), slug, title, detail),
            retry_after_secs: None,
            allow: None,
        }
    }

    /// Adds `Retry-After`, for answers a client should simply retry.
    pub fn retry_after(mut self, secs: u32) -> Self {
        self.retry_after_secs = Some(secs);
        self
    }

    /// Adds `Allow`, for 405 answers.
    pub fn allow(mut self, methods: String) -> Self {
        self.allow = Some(methods);
        self
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.document.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = self.document.to_json();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(secs) = self.retry_after_secs {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let Some(allow) = self.allow.and_then(|a| HeaderValue::from_str(&a).ok()) {
            headers.insert(header::ALLOW, allow);
        }
        response
    }
}

/// A method a host route does not take: a problem document like every
/// other error, where axum alone answers an empty 405 (it still adds the
/// `Allow` header this answer points to).
pub async fn method_not_allowed(method: Method) -> Response {
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "Method not allowed",
        format!("{method} is not allowed here; the Allow header lists the methods that are"),
    )
    .into_response()
}
