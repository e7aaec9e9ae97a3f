//! The server an admin command talks to, and the token it shows it: the
//! one given (`--token`, `GEOFN_ADMIN_TOKEN`), else, for a server on this
//! machine, the one a local `geofn dev` announced for that port.

use std::net::IpAddr;
use std::path::PathBuf;

use crate::config::AdminArgs;
use crate::dev_token;

/// Where the token came from, for telling the user what to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// `--token` or `GEOFN_ADMIN_TOKEN`.
    Given,
    /// The local dev server's file.
    DevServer(PathBuf),
    /// No token at all.
    None,
}

/// The server and the token of one admin command.
#[derive(Debug, Clone)]
pub struct Target {
    /// Base URL, without a trailing slash.
    pub base: String,
    token: Option<String>,
    /// Where the token came from.
    pub source: TokenSource,
}

impl Target {
    /// The server `admin` names, with its token.
    pub fn new(admin: &AdminArgs) -> Self {
        let base = admin.url.trim_end_matches('/').to_owned();
        if let Some(token) = &admin.token {
            return Self {
                base,
                token: Some(token.clone()),
                source: TokenSource::Given,
            };
        }
        match local_port(&base).and_then(dev_token::announced) {
            Some((token, file)) => Self {
                base,
                token: Some(token),
                source: TokenSource::DevServer(file),
            },
            None => Self {
                base,
                token: None,
                source: TokenSource::None,
            },
        }
    }

    /// The full URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The `Authorization` header's value, if there is a token.
    pub fn authorization(&self) -> Option<String> {
        self.token.as_ref().map(|token| format!("Bearer {token}"))
    }
}

/// The port of `url` when it names this machine (a loopback address,
/// `localhost`, or the unspecified address a server reports listening on).
fn local_port(url: &str) -> Option<u16> {
    let uri: http::Uri = url.parse().ok()?;
    let host = uri.host()?.trim_start_matches('[').trim_end_matches(']');
    let local = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback() || ip.is_unspecified());
    if !local {
        return None;
    }
    uri.port_u16().or(match uri.scheme_str() {
        Some("https") => Some(443),
        _ => Some(80),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_machine_has_a_local_port() {
        assert_eq!(local_port("http://127.0.0.1:5000"), Some(5000));
        assert_eq!(local_port("http://localhost:5000/"), Some(5000));
        assert_eq!(local_port("http://[::1]:8080"), Some(8080));
        assert_eq!(local_port("http://0.0.0.0:5000"), Some(5000));
        assert_eq!(local_port("http://localhost"), Some(80));
        assert_eq!(local_port("http://geofn.local:5000"), None);
        assert_eq!(local_port("http://10.0.0.5:5000"), None);
        assert_eq!(local_port("not a url"), None);
    }
}
