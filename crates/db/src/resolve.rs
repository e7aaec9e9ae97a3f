//! The database server's name, looked up so that one lost DNS packet
//! cannot stall a connection.
//!
//! glibc's resolver waits its whole timeout (5 s by default) for an answer
//! to a query that was dropped before it asks again, and tokio-postgres
//! looks the name up on every new connection: in containers a replica's
//! first connection after idle took 10 s, holding up a swap. Here the name
//! is looked up through the system's resolver (so `/etc/hosts`, nsswitch
//! and search domains still apply), and when no answer came within
//! [`HEDGE_AFTER`] a second lookup is sent beside the first: the first
//! answer wins. Every connection looks the name up again, so a failover
//! by DNS is followed at the next connection.
//!
//! Only a configuration with one TCP host by name is resolved here; a
//! Unix socket, an address, several hosts or an explicit `hostaddr` are
//! connected to as tokio-postgres would.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use deadpool_postgres::Connect;
use futures_util::future::BoxFuture;
use tokio::task::JoinHandle;
use tokio_postgres::config::Host;
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres::{Client, Config, Connection, Error, Socket};

/// A lookup without an answer after this gets a second one beside it.
pub const HEDGE_AFTER: Duration = Duration::from_millis(250);
/// Both lookups together may take this long.
pub const LOOKUP_TIMEOUT: Duration = Duration::from_secs(3);

/// Looks `name` up, hedged: a second lookup after [`HEDGE_AFTER`] when
/// the first has not answered, the first success wins, at most
/// [`LOOKUP_TIMEOUT`] in all.
pub async fn lookup_hedged(name: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
    lookup_with(name, port, HEDGE_AFTER, LOOKUP_TIMEOUT).await
}

async fn lookup_with(
    name: &str,
    port: u16,
    hedge_after: Duration,
    timeout: Duration,
) -> std::io::Result<Vec<SocketAddr>> {
    let lookup = || {
        let name = name.to_owned();
        async move {
            tokio::net::lookup_host((name.as_str(), port))
                .await
                .map(Iterator::collect::<Vec<_>>)
        }
    };
    let hedged = async {
        let first = lookup();
        tokio::pin!(first);
        tokio::select! {
            answer = &mut first => return answer,
            () = tokio::time::sleep(hedge_after) => {}
        }
        tracing::debug!(
            db.host = name,
            "no DNS answer yet; asking again beside the first"
        );
        let second = lookup();
        tokio::pin!(second);
        // The first success wins; a failure waits for the other's answer.
        tokio::select! {
            answer = &mut first => match answer {
                Ok(found) => Ok(found),
                Err(_) => second.await,
            },
            answer = &mut second => match answer {
                Ok(found) => Ok(found),
                Err(_) => first.await,
            },
        }
    };
    tokio::time::timeout(timeout, hedged)
        .await
        .unwrap_or_else(|_| {
            Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no DNS answer for {name} within {timeout:?}"),
            ))
        })
}

/// The one host name `config` connects to, with its port; `None` when
/// tokio-postgres should resolve itself (see the module's note).
fn single_name(config: &Config) -> Option<(&str, u16)> {
    let [Host::Tcp(name)] = config.get_hosts() else {
        return None;
    };
    if !config.get_hostaddrs().is_empty() || name.parse::<IpAddr>().is_ok() {
        return None;
    }
    let port = config.get_ports().first().copied().unwrap_or(5432);
    Some((name.as_str(), port))
}

/// Connects like [`Config::connect`], with the server's name looked up
/// hedged; each address it has is tried in turn (the name stays the
/// host's for TLS).
pub async fn connect<T>(
    config: &Config,
    tls: T,
) -> Result<(Client, Connection<Socket, T::Stream>), Error>
where
    T: MakeTlsConnect<Socket> + Clone,
{
    let Some((name, port)) = single_name(config) else {
        return config.connect(tls).await;
    };
    let addresses = match lookup_hedged(name, port).await {
        Ok(found) if !found.is_empty() => found,
        // Let tokio-postgres look it up and say what is wrong.
        _ => return config.connect(tls).await,
    };
    let mut last = None;
    for address in addresses {
        let mut pinned = config.clone();
        pinned.hostaddr(address.ip());
        match pinned.connect(tls.clone()).await {
            Ok(connected) => return Ok(connected),
            Err(err) => last = Some(err),
        }
    }
    Err(last.expect("at least one address was tried"))
}

/// deadpool's connector with the hedged lookup: every pool of the host
/// opens its connections through it.
#[derive(Clone)]
pub struct HedgedConnect<T> {
    /// The TLS connector.
    pub tls: T,
}

impl<T> Connect for HedgedConnect<T>
where
    T: MakeTlsConnect<Socket> + Clone + Sync + Send + 'static,
    T::Stream: Sync + Send,
    T::TlsConnect: Sync + Send,
    <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
{
    fn connect(&self, config: &Config) -> BoxFuture<'_, Result<(Client, JoinHandle<()>), Error>> {
        let tls = self.tls.clone();
        let config = config.clone();
        Box::pin(async move {
            let (client, connection) = connect(&config, tls).await?;
            let driver = tokio::spawn(async move {
                if let Err(err) = connection.await {
                    tracing::warn!(error = %err, "database connection ended with an error");
                }
            });
            Ok((client, driver))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_one_host_by_name_is_resolved_here() {
        let config = |url: &str| url.parse::<Config>().unwrap();
        let db = config("postgresql://u@db.example:6543/x");
        assert_eq!(single_name(&db), Some(("db.example", 6543)));
        assert_eq!(single_name(&config("postgresql://u@127.0.0.1/x")), None);
        assert_eq!(single_name(&config("host=/run/postgresql user=u")), None);
        assert_eq!(single_name(&config("host=a,b user=u")), None);
        assert_eq!(
            single_name(&config("host=db hostaddr=10.0.0.1 user=u")),
            None
        );
    }

    #[tokio::test]
    async fn localhost_resolves_and_a_missing_name_is_an_error() {
        let found = lookup_hedged("localhost", 5432).await.unwrap();
        assert!(found.iter().any(|a| a.ip().is_loopback()), "{found:?}");
        assert!(lookup_hedged("no-such-host.invalid", 5432).await.is_err());
    }
}
