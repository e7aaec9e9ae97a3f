//! Conditional GETs and cache rules for every answer, handlers' and the
//! host's alike, so caches and clients revalidate instead of downloading
//! again: an entity tag on each successful GET or HEAD, `304 Not Modified`
//! when the client already holds it, and a `Cache-Control` on every answer
//! the handler left without one (writes and errors never stored).
//!
//! The tag is a hash of the body the handler answered, before compression,
//! and weak (`W/"…"`): the compression layer outside this one changes the
//! bytes but not the meaning, which is exactly what RFC 9110 §8.8.1 says a
//! weak validator promises. A handler that sets its own `ETag` (a version
//! column, say) keeps it, and the host still answers `If-None-Match` with it.

use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use http::header::{CACHE_CONTROL, ETAG, IF_NONE_MATCH};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use http_body::Body as _;
use sha2::{Digest, Sha256};

/// The largest body hashed for a tag: every handler answer is far below
/// (they are buffered in the guest's memory, 64 MiB at most), and the host's
/// largest asset is a few hundred KiB. A body above it, or of unknown size,
/// goes out untagged rather than buffered.
const MOST_HASHED: u64 = 16 << 20;

/// A successful GET the handler left without a rule: store it, but
/// revalidate it each time (cheap with the tag; a listing may change with
/// any write).
const REVALIDATE: HeaderValue = HeaderValue::from_static("no-cache");
/// Writes, errors and anything not a GET: never stored.
const NEVER: HeaderValue = HeaderValue::from_static("no-store");

/// What a request asked of the cache rules, taken before it is handed on:
/// its method and the tags it already holds. Applied to its answer by
/// [`Conditional::answer`], from the host's one response layer
/// (`router::finish`) rather than a middleware of its own, which would
/// wrap every poll of the request in two more futures.
#[derive(Debug)]
pub struct Conditional {
    method: Method,
    asked: Vec<HeaderValue>,
}

impl Conditional {
    /// The request's method and `If-None-Match` tags.
    pub fn of(request: &Request) -> Self {
        Self {
            method: request.method().clone(),
            asked: request
                .headers()
                .get_all(IF_NONE_MATCH)
                .iter()
                .cloned()
                .collect(),
        }
    }

    /// The answer with its tag, `304` or default `Cache-Control`.
    pub async fn answer(self, mut response: Response) -> Response {
        let Self { method, asked } = self;
        // HEAD answers the headers GET would, its tag included (RFC 9110
        // §9.3.2), and `If-None-Match` applies to it as to GET (§13.1.2).
        let cacheable = (method == Method::GET || method == Method::HEAD)
            && response.status() == StatusCode::OK;
        if !response.headers().contains_key(CACHE_CONTROL) {
            let rule = if cacheable { REVALIDATE } else { NEVER };
            response.headers_mut().insert(CACHE_CONTROL, rule);
        }
        if !cacheable {
            return response;
        }
        if !response.headers().contains_key(ETAG) {
            response = match tagged(response).await {
                Ok(tagged) => tagged,
                Err(failed) => return failed,
            };
        }
        match response.headers().get(ETAG) {
            Some(tag) if matches(&asked, tag) => not_modified(response.headers()),
            _ => response,
        }
    }
}

/// The response with a weak tag hashed from its body, when the body's size
/// is known and at most [`MOST_HASHED`].
async fn tagged(response: Response) -> Result<Response, Response> {
    let size = response.body().size_hint().exact();
    if size.is_none_or(|size| size > MOST_HASHED) {
        return Ok(response);
    }
    let (mut parts, body) = response.into_parts();
    let bytes = match to_bytes(body, usize::MAX).await {
        Ok(bytes) => bytes,
        Err(err) => {
            tracing::warn!(error = %err, "a response body failed while being tagged");
            return Err(crate::problem::Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
                "the answer could not be read",
            )
            .into_response());
        }
    };
    let digest = Sha256::digest(&bytes);
    // 128 bits: collisions out of reach, the header short.
    let tag = format!("W/\"{}\"", hex::encode(&digest[..16]));
    parts.headers.insert(
        ETAG,
        HeaderValue::from_str(&tag).expect("hex digits are a valid header value"),
    );
    Ok(Response::from_parts(parts, Body::from(bytes)))
}

/// RFC 9110 §13.1.2: `*`, or any listed tag equal to ours by the weak
/// comparison (the `W/` prefixes ignored).
fn matches(asked: &[HeaderValue], ours: &HeaderValue) -> bool {
    let ours = opaque(ours.as_bytes());
    asked
        .iter()
        .flat_map(|value| value.as_bytes().split(|&b| b == b','))
        .map(|tag| tag.trim_ascii())
        .any(|tag| tag == b"*" || opaque(tag) == ours)
}

/// A tag without its weakness marker.
fn opaque(tag: &[u8]) -> &[u8] {
    tag.strip_prefix(b"W/").unwrap_or(tag)
}

/// RFC 9110 §15.4.5: no body, and the headers a `200` would have sent that
/// a cache needs to refresh its copy.
fn not_modified(full: &HeaderMap) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::NOT_MODIFIED;
    for name in [
        http::header::CACHE_CONTROL,
        http::header::CONTENT_LOCATION,
        http::header::DATE,
        http::header::ETAG,
        http::header::EXPIRES,
        http::header::VARY,
    ] {
        for value in full.get_all(&name) {
            response.headers_mut().append(name.clone(), value.clone());
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(list: &[&str]) -> Vec<HeaderValue> {
        list.iter()
            .map(|v| HeaderValue::from_str(v).unwrap())
            .collect()
    }

    #[test]
    fn weak_comparison_over_lists_and_star() {
        let ours = HeaderValue::from_static("W/\"abc\"");
        assert!(matches(&values(&["W/\"abc\""]), &ours));
        assert!(matches(&values(&["\"abc\""]), &ours));
        assert!(matches(&values(&["\"x\", W/\"abc\""]), &ours));
        assert!(matches(&values(&["\"x\"", "\"abc\""]), &ours));
        assert!(matches(&values(&["*"]), &ours));
        assert!(!matches(&values(&["W/\"abd\""]), &ours));
        assert!(!matches(&values(&["abc"]), &ours));
        assert!(!matches(&[], &ours));
    }
}
