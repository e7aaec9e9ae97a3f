//! RFC 9457 problem documents: every error the host itself answers.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;

/// Media type of problem documents.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An error answer. `kind` is a stable URN clients can branch on; `detail`
/// is for humans and never carries internals (those go to the log).
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    #[serde(rename = "type")]
    kind: String,
    title: &'static str,
    status: u16,
    detail: String,
    #[serde(skip)]
    retry_after_secs: Option<u32>,
    #[serde(skip)]
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
            kind: format!("urn:geofn:problem:{slug}"),
            title,
            status: status.as_u16(),
            detail: detail.into(),
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
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
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
