//! Connections for outbound calls: the host resolves the name once, keeps
//! only the addresses it may reach, and connects to one of those — never
//! resolving again, so a name that answers a public address to the check
//! and a private one to the connection (DNS rebinding) gets nowhere.

use std::collections::HashSet;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::Uri;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::vet::non_public;

/// Why no connection was made; told apart by the outbound call's error.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The name did not resolve.
    #[error("cannot resolve {host}: {source}")]
    Dns {
        /// The name.
        host: String,
        /// The resolver's error.
        source: std::io::Error,
    },
    /// Every address it resolved to is one the handler may not reach.
    #[error(
        "{host} resolves only to addresses a handler may not reach ({reason}) unless its allow-list names the host exactly"
    )]
    Prohibited {
        /// The name.
        host: String,
        /// Why the first address was refused.
        reason: &'static str,
    },
    /// No vetted address accepted a connection in time.
    #[error("cannot connect to {host}: {source}")]
    Connect {
        /// The name.
        host: String,
        /// The last address's error.
        source: std::io::Error,
    },
}

/// Resolves a name to addresses: the system's resolver, or a test's.
pub type Resolver = Arc<
    dyn Fn(String, u16) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<SocketAddr>>> + Send>>
        + Send
        + Sync,
>;

/// The system's resolver (getaddrinfo, on a blocking thread).
pub fn system_resolver() -> Resolver {
    Arc::new(|host, port| {
        Box::pin(async move {
            Ok(tokio::net::lookup_host((host.as_str(), port))
                .await?
                .collect())
        })
    })
}

/// A `tower` connector for `hyper-util`'s pooled client, one per handler
/// version: its exact hosts are the only ones that may be private.
#[derive(Clone)]
pub struct VettingConnector {
    /// Hosts (lower case; IPv6 bracketed) the allow-list names exactly.
    exact: Arc<HashSet<String>>,
    /// Longest wait for one address to accept.
    connect_timeout: Duration,
    resolve: Resolver,
}

impl VettingConnector {
    /// A connector for a handler whose allow-list names `exact` hosts,
    /// resolving names with `resolve`.
    pub fn new(exact: HashSet<String>, connect_timeout: Duration, resolve: Resolver) -> Self {
        Self {
            exact: Arc::new(exact),
            connect_timeout,
            resolve,
        }
    }

    async fn connect(self, uri: Uri) -> Result<TokioIo<TcpStream>, ConnectError> {
        let host = uri.host().unwrap_or_default().to_ascii_lowercase();
        let port = uri
            .port_u16()
            .unwrap_or(if uri.scheme_str() == Some("https") {
                443
            } else {
                80
            });
        let literal = host.trim_start_matches('[').trim_end_matches(']');
        let candidates: Vec<SocketAddr> = match literal.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => (self.resolve)(literal.to_owned(), port)
                .await
                .map_err(|source| ConnectError::Dns {
                    host: host.clone(),
                    source,
                })?,
        };
        let may_be_private = self.exact.contains(&host);
        let mut refused = None;
        let vetted: Vec<SocketAddr> = candidates
            .into_iter()
            .filter(|address| match non_public(address.ip()) {
                Some(reason) if !may_be_private => {
                    refused.get_or_insert(reason);
                    false
                }
                _ => true,
            })
            .collect();
        if vetted.is_empty() {
            return Err(ConnectError::Prohibited {
                host,
                reason: refused.unwrap_or("no address"),
            });
        }
        let mut last = None;
        for address in vetted {
            match tokio::time::timeout(self.connect_timeout, TcpStream::connect(address)).await {
                Ok(Ok(stream)) => {
                    let _ = stream.set_nodelay(true);
                    return Ok(TokioIo::new(stream));
                }
                Ok(Err(err)) => last = Some(err),
                Err(_) => last = Some(std::io::ErrorKind::TimedOut.into()),
            }
        }
        Err(ConnectError::Connect {
            host,
            source: last.unwrap_or_else(|| std::io::ErrorKind::NotFound.into()),
        })
    }
}

impl tower_service::Service<Uri> for VettingConnector {
    type Response = TokioIo<TcpStream>;
    type Error = ConnectError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, ConnectError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), ConnectError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        Box::pin(self.clone().connect(uri))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A resolver that answers loopback for every name, as a rebinding
    /// name does on its second lookup.
    fn rebinding() -> Resolver {
        Arc::new(|_, port| {
            Box::pin(async move { Ok(vec![SocketAddr::from(([127, 0, 0, 1], port))]) })
        })
    }

    async fn connect(exact: &[&str], url: &str) -> Result<TokioIo<TcpStream>, ConnectError> {
        let exact = exact.iter().map(|h| h.to_string()).collect();
        VettingConnector::new(exact, Duration::from_secs(2), rebinding())
            .connect(url.parse().unwrap())
            .await
    }

    #[tokio::test]
    async fn a_name_resolving_to_loopback_is_refused_unless_named_exactly() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let url = format!("http://rebind.example.org:{port}/");
        let Err(refused) = connect(&[], &url).await else {
            panic!("a loopback answer for a name off the exact list connected");
        };
        assert!(
            matches!(
                refused,
                ConnectError::Prohibited {
                    reason: "loopback",
                    ..
                }
            ),
            "{refused}"
        );
        connect(&["rebind.example.org"], &url)
            .await
            .expect("named exactly: allowed");
        let literal = format!("http://169.254.169.254:{port}/");
        assert!(matches!(
            connect(&[], &literal).await,
            Err(ConnectError::Prohibited { .. })
        ));
    }
}
