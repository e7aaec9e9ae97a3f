//! The absolute URL clients reached us at, for links that must be absolute
//! (OGC API clients follow them as given, from behind proxies too).

use crate::wit::Request;

/// Scheme and authority of this API as the client sees it.
pub struct Base(String);

impl Base {
    /// From `X-Forwarded-Proto`/`X-Forwarded-Host` (set by nginx, HAProxy
    /// and ingress controllers), else `Host`, else loopback.
    pub fn of(request: &Request) -> Self {
        let first = |name: &str| {
            request
                .header(name)
                .and_then(|v| v.split(',').next())
                .map(str::trim)
                .filter(|v| !v.is_empty() && v.bytes().all(safe_byte))
        };
        let scheme = match first("x-forwarded-proto") {
            Some("https") => "https",
            _ => "http",
        };
        let host = first("x-forwarded-host")
            .or_else(|| first("host"))
            .unwrap_or("localhost");
        Base(format!("{scheme}://{host}"))
    }

    /// `path` made absolute.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.0)
    }
}

/// Characters a host[:port] may have; anything else is not echoed into links.
fn safe_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']' | b'_')
}
