//! Bounds on a request's head — its target and its header fields — answered
//! with a problem document like every other bad request.
//!
//! hyper alone bounds a head only where it cannot hold it: a target past
//! 64 KiB, more than 100 fields, a head past its read buffer (about
//! 400 KiB, loosely: a 500 KB field got through) get an empty 414 or 431
//! and a closed connection; anything smaller reached the handler, its
//! fields copied into the guest's memory on every request. Real clients'
//! heads are a few KiB (a bearer token with many claims, cookies), and
//! nginx and HAProxy in front refuse far less by default (8 KiB per line,
//! 16 KiB per head), so the defaults here are generous against a real client
//! and small against a hostile one. The ceilings of the settings stay
//! below hyper's, so within them the answer is always ours.

use axum::extract::Request;
use http::header::AUTHORIZATION;
use http::{HeaderName, HeaderValue, StatusCode};

use crate::convert::is_bearer;
use crate::problem::Problem;

/// The request target's default bound (path and query), in bytes: an OGC
/// API filter with a polygon in its query fits; nginx's default line is 8 KiB.
pub const DEFAULT_TARGET_BYTES: usize = 16 << 10;

/// The header fields' default bound, in bytes, counted as on the wire
/// (`name: value` and a line end, each). The bearer token is not counted:
/// the token check bounds it (8 KiB) and refuses a longer one as RFC 6750
/// says, `401 invalid_token`, and it never reaches a guest.
pub const DEFAULT_FIELDS_BYTES: usize = 32 << 10;

/// The largest target bound a setting may ask for: the `http` crate's URI
/// holds at most 64 KiB − 2, and hyper answers longer ones itself.
pub const MAX_TARGET_BYTES: usize = 63 << 10;

/// The largest fields bound a setting may ask for, so that with the
/// longest target the head stays well inside hyper's read buffer.
pub const MAX_FIELDS_BYTES: usize = 256 << 10;

const _: () = assert!(DEFAULT_TARGET_BYTES <= MAX_TARGET_BYTES);
const _: () = assert!(DEFAULT_FIELDS_BYTES <= MAX_FIELDS_BYTES);

/// What one line of the head costs besides its name and value: `": "` and CRLF.
const FIELD_FRAMING: usize = 4;

/// The bounds every request's head is held to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadLimits {
    /// The request target (path and query), in bytes.
    pub target_bytes: usize,
    /// All header fields together, in bytes as on the wire.
    pub fields_bytes: usize,
}

impl Default for HeadLimits {
    fn default() -> Self {
        Self {
            target_bytes: DEFAULT_TARGET_BYTES,
            fields_bytes: DEFAULT_FIELDS_BYTES,
        }
    }
}

impl HeadLimits {
    /// The problem a request's head is, if it passes a bound: 414 for the
    /// target, 431 for the fields. Read before anything else looks at the
    /// request, so nothing it would have changed is changed.
    pub fn problem(&self, request: &Request) -> Option<Problem> {
        let target = request
            .uri()
            .path_and_query()
            .map_or(0, |target| target.as_str().len());
        if target > self.target_bytes {
            return Some(Problem::new(
                StatusCode::URI_TOO_LONG,
                "uri-too-long",
                "Request target too long",
                format!(
                    "the request's path and query are {target} bytes; this server takes at most {}",
                    self.target_bytes
                ),
            ));
        }
        let line = |name: &HeaderName, value: &HeaderValue| {
            name.as_str().len() + value.len() + FIELD_FRAMING
        };
        let headers = request.headers();
        let all: usize = headers.iter().map(|(name, value)| line(name, value)).sum();
        // Only the token the check reads (the first `Authorization`) is its
        // to bound; a second bearer field counts like any other.
        let token = headers
            .get(AUTHORIZATION)
            .filter(|value| is_bearer(&AUTHORIZATION, value))
            .map_or(0, |value| line(&AUTHORIZATION, value));
        let fields = all - token;
        if fields > self.fields_bytes {
            return Some(Problem::new(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "header-fields-too-large",
                "Request header fields too large",
                format!(
                    "the request's header fields are {fields} bytes; this server takes at most {}",
                    self.fields_bytes
                ),
            ));
        }
        None
    }

    /// HTTP/2's bound on a request's header list (`SETTINGS_MAX_HEADER_LIST_SIZE`),
    /// above these bounds: h2 refuses a longer list itself, and counts
    /// 32 bytes per field (the target's pseudo-fields too) where these
    /// bounds count 4, so a head of many small fields needs the room.
    pub fn http2_header_list_bytes(&self) -> u32 {
        let ours = self.target_bytes + self.fields_bytes;
        u32::try_from(ours.saturating_mul(4)).unwrap_or(u32::MAX)
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::response::IntoResponse;

    use super::*;

    const SMALL: HeadLimits = HeadLimits {
        target_bytes: 64,
        fields_bytes: 64,
    };

    fn request(target: &str, fields: &[(&str, &str)]) -> Request {
        let mut builder = Request::get(target);
        for (name, value) in fields {
            builder = builder.header(*name, *value);
        }
        builder.body(Body::empty()).unwrap()
    }

    fn status(problem: Option<Problem>) -> Option<StatusCode> {
        problem.map(|problem| problem.into_response().status())
    }

    #[test]
    fn a_head_at_its_bounds_passes() {
        let target = format!("/points?q={}", "a".repeat(64 - 10));
        // A name of 4 and framing of 4: 56 bytes of value fill the 64.
        let value = "v".repeat(64 - 8);
        assert_eq!(
            status(SMALL.problem(&request(&target, &[("x-ab", &value)]))),
            None
        );
    }

    #[test]
    fn a_target_one_byte_long_is_a_414() {
        let target = format!("/points?q={}", "a".repeat(64 - 9));
        assert_eq!(
            status(SMALL.problem(&request(&target, &[]))),
            Some(StatusCode::URI_TOO_LONG)
        );
    }

    #[test]
    fn a_bearer_token_is_left_to_the_token_check() {
        let token = format!("Bearer {}", "t".repeat(1000));
        assert_eq!(
            status(SMALL.problem(&request("/", &[("authorization", &token)]))),
            None
        );
        let twice = [
            ("authorization", token.as_str()),
            ("authorization", token.as_str()),
        ];
        assert_eq!(
            status(SMALL.problem(&request("/", &twice))),
            Some(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE),
            "only the token the check reads is left to it"
        );
        let basic = format!("Basic {}", "t".repeat(1000));
        assert_eq!(
            status(SMALL.problem(&request("/", &[("authorization", &basic)]))),
            Some(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
        );
    }

    #[test]
    fn fields_are_counted_together_and_as_on_the_wire() {
        // Two lines of 8 + 25 bytes: 66 together, each well under the bound.
        let value = "v".repeat(25);
        let fields = [("x-ab", value.as_str()), ("x-cd", value.as_str())];
        assert_eq!(
            status(SMALL.problem(&request("/", &fields))),
            Some(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
        );
    }
}
