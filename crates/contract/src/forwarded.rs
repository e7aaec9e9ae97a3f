//! The scheme and authority clients reached the service at, from the
//! headers the proxies in front of it set (nginx, HAProxy, ingress
//! controllers): the host writes it into `/api`'s `servers`, guests into
//! the absolute links OGC API clients follow. One rule on both sides, so
//! the document and the links name the same server.

/// `scheme://host[:port]` from `X-Forwarded-Proto` and `X-Forwarded-Host`
/// (their first entries), else `Host`, else `localhost`. A value that is
/// not a host[:port] is never echoed; a scheme other than `https` is
/// `http`. `header` gives a request header's value by lower-case name.
pub fn base_url<'a>(header: impl Fn(&str) -> Option<&'a str>) -> String {
    let first = |name: &str| {
        header(name)
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|v| !v.is_empty() && v.bytes().all(host_byte))
    };
    let scheme = match first("x-forwarded-proto") {
        Some("https") => "https",
        _ => "http",
    };
    let host = first("x-forwarded-host")
        .or_else(|| first("host"))
        .unwrap_or("localhost");
    format!("{scheme}://{host}")
}

/// Characters a host[:port] may have (names, IPv4, bracketed IPv6).
fn host_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']' | b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from<'a>(headers: &'a [(&str, &'a str)]) -> String {
        base_url(|name| headers.iter().find(|(k, _)| *k == name).map(|(_, v)| *v))
    }

    #[test]
    fn the_proxy_is_followed_and_nothing_else_is_echoed() {
        assert_eq!(from(&[]), "http://localhost");
        assert_eq!(from(&[("host", "10.0.0.5:8080")]), "http://10.0.0.5:8080");
        let proxied = [
            ("host", "10.0.0.5:8080"),
            ("x-forwarded-proto", "https, http"),
            ("x-forwarded-host", "maps.example.org, inner"),
        ];
        assert_eq!(from(&proxied), "https://maps.example.org");
        let hostile = [
            ("host", "[::1]:5000"),
            ("x-forwarded-host", "evil\"><script>"),
        ];
        assert_eq!(from(&hostile), "http://[::1]:5000");
        assert_eq!(from(&[("x-forwarded-proto", "gopher")]), "http://localhost");
    }
}
