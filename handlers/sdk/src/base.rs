//! The absolute URL clients reached us at, for links that must be absolute
//! (OGC API clients follow them as given, from behind proxies too).

use crate::wit::Request;

/// Scheme and authority of this API as the client sees it.
pub struct Base(String);

impl Base {
    /// From `X-Forwarded-Proto`/`X-Forwarded-Host` (set by nginx, HAProxy
    /// and ingress controllers), else `Host`, else loopback: the host's
    /// rule for `/api`'s `servers` too (`geofn_contract::forwarded`).
    pub fn of(request: &Request) -> Self {
        Base(geofn_contract::forwarded::base_url(|name| {
            request.header(name)
        }))
    }

    /// `path` made absolute.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.0)
    }
}
