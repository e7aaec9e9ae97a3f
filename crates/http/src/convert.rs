//! HTTP ↔ WIT: what a handler is given and what the host makes of its
//! answer. Pure functions, fuzzed (`host/fuzz`).

use axum::body::Body;
use axum::response::Response;
use http::header::{AUTHORIZATION, CONNECTION, CONTENT_LENGTH, TRANSFER_ENCODING};
use http::request::Parts;
use http::{HeaderName, HeaderValue, StatusCode};

use geofn_runtime::bindings;

/// The request as the guest sees it. Header values that are not UTF-8 are
/// passed on lossily (WIT strings are UTF-8). A bearer token never reaches
/// the guest: the host verified it, and the guest gets the identity.
pub fn guest_request(parts: &Parts, body: &[u8]) -> bindings::Request {
    bindings::Request {
        method: parts.method.as_str().to_owned(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or_default().to_owned(),
        headers: parts
            .headers
            .iter()
            .filter(|(name, value)| !is_bearer(name, value))
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: body.to_vec(),
    }
}

/// Whether a header carries a bearer token.
pub(crate) fn is_bearer(name: &HeaderName, value: &HeaderValue) -> bool {
    *name == AUTHORIZATION
        && value
            .as_bytes()
            .get(..7)
            .is_some_and(|scheme| scheme.eq_ignore_ascii_case(b"bearer "))
}

/// Why a guest's response cannot be sent.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BadResponse {
    /// Not a status code HTTP knows (100-999 as http accepts, 100-599 as we do).
    #[error("an invalid status code {0}")]
    Status(u16),
    /// A header name or value HTTP cannot carry.
    #[error("an invalid header {0:?}")]
    Header(String),
}

/// The HTTP response for a guest's answer. Framing headers are the host's
/// job and dropped. The body stays even for HEAD: the router sets
/// `Content-Length` from it and strips it at the edge, as for the host's own
/// routes, so a HEAD answers the length and the tag a GET would.
pub fn http_response(response: bindings::Response) -> Result<Response, BadResponse> {
    let status = StatusCode::from_u16(response.status)
        .ok()
        .filter(|s| (100..600).contains(&s.as_u16()))
        .ok_or(BadResponse::Status(response.status))?;
    let mut out = Response::new(Body::from(response.body));
    *out.status_mut() = status;
    for (name, value) in response.headers {
        let (Ok(header), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) else {
            return Err(BadResponse::Header(name));
        };
        if header == CONTENT_LENGTH || header == TRANSFER_ENCODING || header == CONNECTION {
            continue;
        }
        out.headers_mut().append(header, value);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, headers: &[(&str, &str)]) -> bindings::Response {
        bindings::Response {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            body: b"hi".to_vec(),
        }
    }

    #[test]
    fn bad_statuses_and_headers_are_refused() {
        for status in [0, 99, 600, 1000] {
            assert_eq!(
                http_response(response(status, &[])).err(),
                Some(BadResponse::Status(status))
            );
        }
        assert!(http_response(response(200, &[("bad name", "x")])).is_err());
        assert!(http_response(response(200, &[("x", "line\nbreak")])).is_err());
    }

    #[test]
    fn framing_headers_are_the_hosts() {
        let out = http_response(response(
            201,
            &[("content-length", "999"), ("location", "/points/1")],
        ))
        .unwrap();
        assert_eq!(out.status(), StatusCode::CREATED);
        assert!(out.headers().get("content-length").is_none());
        assert_eq!(out.headers()["location"], "/points/1");
    }
}
