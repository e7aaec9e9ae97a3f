//! `.../fetch?url=U`: one outbound call through `wasi:http`, answered as
//! what it got (status, body length, the body if short) or why it failed.

use geofn_guest::http;
use geofn_guest::outbound::{self, OutboundError};
use geofn_guest::{Request, Response};
use serde_json::json;

use crate::args::param;

/// Calls `url` (GET) and reports the outcome; 200 either way.
pub fn fetch(request: &Request) -> Response {
    let url = param(request, "url").unwrap_or_default();
    match outbound::get(&url) {
        Ok(answer) => {
            let body = String::from_utf8_lossy(&answer.body);
            http::json(
                200,
                &json!({
                    "status": answer.status,
                    "bytes": answer.body.len(),
                    "body": if body.len() <= 4096 { Some(body) } else { None },
                    "location": answer.header("location"),
                }),
            )
        }
        Err(err) => {
            let kind = match &err {
                OutboundError::BadUrl(_) => "bad-url",
                OutboundError::Denied(_) => "denied",
                OutboundError::Unreachable(_) => "unreachable",
                OutboundError::TooLarge => "too-large",
                OutboundError::Timeout => "timeout",
            };
            http::json(200, &json!({ "error": kind, "detail": err.to_string() }))
        }
    }
}
