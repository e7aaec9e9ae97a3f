//! What a request asks for, from its query string.

use geofn_guest::Request;

/// A query parameter, if present.
pub fn param(request: &Request, name: &str) -> Option<String> {
    request
        .query_pairs()
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// A numeric query parameter, 0 when absent or not a number.
pub fn number(request: &Request, name: &str) -> u64 {
    param(request, name)
        .and_then(|v| v.parse().ok())
        .unwrap_or_default()
}
