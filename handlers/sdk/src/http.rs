//! Reading requests and building responses, so handlers speak HTTP the same way.

use serde::Serialize;

use crate::wit::{Request, Response};

/// Media type of RFC 9457 problem documents, the shape of every error answer.
pub const PROBLEM_JSON: &str = geofn_contract::problem::CONTENT_TYPE;
/// Media type of ordinary JSON answers.
pub const JSON: &str = "application/json";
/// Media type of GeoJSON (RFC 7946).
pub const GEOJSON: &str = "application/geo+json";

/// An RFC 9457 problem document (`geofn_contract::problem`, the same type
/// the host answers with). `type` is a URI naming the kind of problem so
/// clients can branch on it without parsing `detail`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem(pub geofn_contract::problem::Problem);

impl std::ops::Deref for Problem {
    type Target = geofn_contract::problem::Problem;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl Problem {
    /// A problem of kind `urn:geofn:problem:{slug}`.
    pub fn new(status: u16, slug: &str, title: &str, detail: impl Into<String>) -> Self {
        Self(geofn_contract::problem::Problem::new(
            status, slug, title, detail,
        ))
    }

    /// A 400 naming the parameter or field that was wrong.
    pub fn bad_parameter(parameter: &str, detail: impl Into<String>) -> Self {
        Self(
            geofn_contract::problem::Problem::new(
                400,
                "invalid-parameter",
                "Invalid parameter",
                detail,
            )
            .with_parameter(parameter),
        )
    }

    /// A 404 for a resource that does not exist.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(404, "not-found", "Not found", detail)
    }

    /// Renders the problem as an HTTP response.
    pub fn into_response(self) -> Response {
        Response {
            status: self.0.status,
            headers: vec![("content-type".into(), PROBLEM_JSON.into())],
            body: self.0.to_json(),
        }
    }
}

impl From<Problem> for Response {
    fn from(problem: Problem) -> Self {
        problem.into_response()
    }
}

/// A JSON response with the given status.
pub fn json<T: Serialize + ?Sized>(status: u16, value: &T) -> Response {
    with_content_type(status, JSON, value)
}

/// A JSON-encoded response with an explicit media type (e.g. `application/geo+json`).
pub fn with_content_type<T: Serialize + ?Sized>(
    status: u16,
    content_type: &str,
    value: &T,
) -> Response {
    // A page of points is several KiB: start big enough to skip most regrowth.
    let mut body = Vec::with_capacity(4096);
    match serde_json::to_writer(&mut body, value) {
        Ok(()) => encoded(status, content_type, body),
        Err(err) => Problem::new(
            500,
            "serialization",
            "Response could not be encoded",
            err.to_string(),
        )
        .into_response(),
    }
}

/// A body the handler already encoded (e.g. JSON written without serde's
/// run-time machinery), with its media type.
pub fn encoded(status: u16, content_type: &str, body: Vec<u8>) -> Response {
    Response {
        status,
        headers: vec![("content-type".into(), content_type.into())],
        body,
    }
}

/// An empty response, e.g. 204 after a delete.
pub fn empty(status: u16) -> Response {
    Response {
        status,
        headers: Vec::new(),
        body: Vec::new(),
    }
}

impl Response {
    /// Adds a header; returns the response for chaining.
    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_ascii_lowercase(), value.into()));
        self
    }
}

impl Request {
    /// The first value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// Decoded query parameters, in order, repeated keys kept.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        form_urlencoded::parse(self.query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    /// Path segments after the leading slash ("/points/42" → ["points", "42"]).
    pub fn segments(&self) -> Vec<&str> {
        self.path.trim_start_matches('/').split('/').collect()
    }

    /// Whether the body was declared as JSON, or not declared at all (curl
    /// without -H and many scripts send no Content-Type; we accept that).
    pub fn body_may_be_json(&self) -> bool {
        match self.header("content-type") {
            None => true,
            Some(value) => {
                let essence = value.split(';').next().unwrap_or("").trim();
                essence.eq_ignore_ascii_case(JSON)
                    || essence.to_ascii_lowercase().ends_with("+json")
            }
        }
    }
}
