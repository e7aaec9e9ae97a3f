//! Outbound HTTP: which origins a handler may call. Denied by default; the
//! manifest lists what a handler may call, and an operator may set the
//! list per handler in `geofn.toml`.
//!
//! ```toml
//! [outbound]
//! allowed_hosts = ["https://api.example.org", "https://*.tiles.example.org", "http://127.0.0.1:8080"]
//! ```
//!
//! An entry is a scheme (`http` or `https`), a host (a DNS name, `*.` and
//! a name for any of its subdomains, an IPv4 address or a bracketed IPv6
//! one) and an optional port (the scheme's default when absent).
//! Private, loopback, link-local and cloud metadata addresses are refused
//! unless an entry names that exact host (no wildcard): see the runtime's
//! address vetting.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What a handler may call.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct OutboundPolicy {
    /// Origins it may call; empty: none.
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
}

/// One parsed `allowed_hosts` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedHost {
    /// `http` or `https`.
    pub scheme: String,
    /// Lower-case host, without the `*.` of a wildcard.
    pub host: String,
    /// Whether any subdomain of `host` matches (and `host` itself does not).
    pub wildcard: bool,
    /// The port, the scheme's default when the entry has none.
    pub port: u16,
}

/// How a request's origin matched the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allowed {
    /// The entry as written: the label metrics use (bounded by the list).
    pub entry: String,
    /// The entry names this very host (not through a wildcard): then, and
    /// only then, may it resolve to a private or loopback address.
    pub exact: bool,
}

impl fmt::Display for AllowedHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let star = if self.wildcard { "*." } else { "" };
        write!(f, "{}://{star}{}:{}", self.scheme, self.host, self.port)
    }
}

/// The port a scheme uses when a URL names none.
pub fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

/// Parses one entry, or says what is wrong with it.
pub fn parse_allowed(entry: &str) -> Result<AllowedHost, String> {
    let bad = |why: &str| Err(format!("allowed host {entry:?}: {why}"));
    let Some((scheme, rest)) = entry.split_once("://") else {
        return bad("must be scheme://host[:port], e.g. https://api.example.org");
    };
    let scheme = scheme.to_ascii_lowercase();
    let Some(default) = default_port(&scheme) else {
        return bad("the scheme must be http or https");
    };
    if rest.is_empty() || rest.contains(['/', '?', '#', '@']) {
        return bad("only scheme, host and port: no path, query, user or empty host");
    }
    let Some((host, port)) = split_port(rest) else {
        return bad("the port must be a number from 1 to 65535");
    };
    let port = port.unwrap_or(default);
    let host = host.to_ascii_lowercase();
    let (wildcard, name) = match host.strip_prefix("*.") {
        Some(name) => (true, name.to_owned()),
        None => (false, host),
    };
    if name.contains('*') {
        return bad("`*` only as a leading `*.` of a domain name");
    }
    let is_ip = name.starts_with('[') || name.parse::<std::net::Ipv4Addr>().is_ok();
    if wildcard && is_ip {
        return bad("a wildcard names domains, not addresses");
    }
    if name.starts_with('[') {
        let inner = name.trim_start_matches('[').trim_end_matches(']');
        if !name.ends_with(']') || inner.parse::<std::net::Ipv6Addr>().is_err() {
            return bad("an IPv6 address is written [addr]");
        }
    } else if !valid_dns_name(&name) {
        return bad("the host is not a DNS name or an IP address");
    }
    Ok(AllowedHost {
        scheme,
        host: name,
        wildcard,
        port,
    })
}

/// `host[:port]` split; the port parsed. IPv6 hosts keep their brackets.
fn split_port(authority: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = if authority.starts_with('[') {
        let end = authority.find(']')?;
        let (host, rest) = authority.split_at(end + 1);
        (host, rest.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let port = match port {
        Some(text) => Some(text.parse::<u16>().ok().filter(|p| *p != 0)?),
        None => None,
    };
    Some((host, port))
}

fn valid_dns_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

impl OutboundPolicy {
    /// The first invalid entry's reason, if any.
    pub fn invalid_entry(&self) -> Option<String> {
        self.allowed_hosts
            .iter()
            .find_map(|entry| parse_allowed(entry).err())
    }

    /// The entries, parsed (invalid ones were refused at load).
    pub fn parsed(&self) -> Vec<(String, AllowedHost)> {
        self.allowed_hosts
            .iter()
            .filter_map(|entry| Some((entry.clone(), parse_allowed(entry).ok()?)))
            .collect()
    }
}

/// Whether `scheme://host:port` (host lower-case, IPv6 bracketed) is on
/// `list`, and how.
pub fn check(
    list: &[(String, AllowedHost)],
    scheme: &str,
    host: &str,
    port: u16,
) -> Option<Allowed> {
    list.iter().find_map(|(entry, allowed)| {
        if allowed.scheme != scheme || allowed.port != port {
            return None;
        }
        let matches = if allowed.wildcard {
            host.strip_suffix(allowed.host.as_str())
                .is_some_and(|prefix| prefix.len() > 1 && prefix.ends_with('.'))
        } else {
            host == allowed.host
        };
        matches.then(|| Allowed {
            entry: entry.clone(),
            exact: !allowed.wildcard,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(entries: &[&str]) -> Vec<(String, AllowedHost)> {
        OutboundPolicy {
            allowed_hosts: entries.iter().map(|e| e.to_string()).collect(),
        }
        .parsed()
    }

    #[test]
    fn entries_parse_with_default_ports() {
        let parsed = parse_allowed("HTTPS://Api.Example.org").unwrap();
        assert_eq!(
            (parsed.host.as_str(), parsed.port, parsed.wildcard),
            ("api.example.org", 443, false)
        );
        let parsed = parse_allowed("http://127.0.0.1:8080").unwrap();
        assert_eq!(parsed.port, 8080);
        let parsed = parse_allowed("http://[::1]:9").unwrap();
        assert_eq!(parsed.host, "[::1]");
        assert!(parse_allowed("https://*.example.org").unwrap().wildcard);
    }

    #[test]
    fn bad_entries_say_why() {
        for (entry, why) in [
            ("api.example.org", "scheme://"),
            ("ftp://x.org", "http or https"),
            ("https://x.org/path", "no path"),
            ("https://user@x.org", "no path"),
            ("https://x.org:0", "port"),
            ("https://x.org:99999", "port"),
            ("https://a.*.org", "leading"),
            ("https://*.10.0.0.1", "addresses"),
            ("https://*", "leading"),
            ("https://[::g]", "IPv6"),
            ("https://bad_name.org", "DNS name"),
        ] {
            let err = parse_allowed(entry).unwrap_err();
            assert!(err.contains(why), "{entry}: {err}");
        }
    }

    #[test]
    fn matching_is_by_scheme_host_and_port() {
        let list = list(&[
            "https://api.example.org",
            "https://*.tiles.example.org",
            "http://127.0.0.1:8080",
        ]);
        let hit = check(&list, "https", "api.example.org", 443).unwrap();
        assert!(hit.exact);
        assert!(
            check(&list, "http", "api.example.org", 80).is_none(),
            "scheme"
        );
        assert!(
            check(&list, "https", "api.example.org", 8443).is_none(),
            "port"
        );
        let sub = check(&list, "https", "a.tiles.example.org", 443).unwrap();
        assert!(!sub.exact, "a wildcard never names an exact host");
        assert!(
            check(&list, "https", "tiles.example.org", 443).is_none(),
            "the bare domain"
        );
        assert!(check(&list, "https", "eviltiles.example.org", 443).is_none());
        assert!(check(&list, "https", "api.example.org.evil.com", 443).is_none());
        assert!(check(&list, "http", "127.0.0.1", 8080).unwrap().exact);
        assert!(
            check(&[], "https", "api.example.org", 443).is_none(),
            "denied by default"
        );
    }
}
