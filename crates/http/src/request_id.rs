//! `X-Request-Id`: kept when a proxy or client sends one, minted here when
//! not, echoed in the response, attached to every log line of the request
//! (handler log lines included) and passed to the handler as a header.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use http::{HeaderName, HeaderValue, Request};
use tower_http::request_id::{MakeRequestId, RequestId};

/// The header, as nginx (`$request_id`) and HAProxy (`unique-id`) set it.
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Ids `<process prefix>-<counter>`: unique across replicas (the prefix
/// mixes the pid and start time) without a random number per request.
#[derive(Clone, Debug)]
pub struct MintRequestId {
    prefix: &'static str,
    counter: &'static AtomicU64,
}

impl Default for MintRequestId {
    fn default() -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let seed = nanos ^ (u64::from(std::process::id()) << 40);
        Self {
            prefix: Box::leak(format!("{seed:016x}").into_boxed_str()),
            counter: Box::leak(Box::new(AtomicU64::new(0))),
        }
    }
}

impl MakeRequestId for MintRequestId {
    fn make_request_id<B>(&mut self, _request: &Request<B>) -> Option<RequestId> {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        HeaderValue::from_str(&format!("{}-{n}", self.prefix))
            .ok()
            .map(RequestId::new)
    }
}
