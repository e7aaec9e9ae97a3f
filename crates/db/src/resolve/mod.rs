//! The database server's name, looked up so that a quiet resolver cannot
//! stall a connection.
//!
//! glibc's resolver waits its whole timeout (5 s by default) for an answer
//! to a query that was dropped before it asks again, and tokio-postgres
//! looks the name up on every new connection: in containers a replica's
//! migration connection took 10-13 s, holding up a swap. Here the name is
//! looked up through the system's resolver (so `/etc/hosts`, nsswitch and
//! search domains still apply), hedged ([`hedged`]: a second query beside
//! a slow first one, another every second while none answers), and when no answer came within [`STALE_AFTER`] the
//! connection goes to the addresses the name had last ([`known`]) while
//! the lookup goes on. Every connection looks the name up again, so a
//! failover by DNS is followed at the next connection.
//!
//! Only a configuration with one TCP host by name is resolved here; a
//! Unix socket, an address, several hosts or an explicit `hostaddr` are
//! connected to as tokio-postgres would.

mod hedged;
mod known;

pub use hedged::{ASK_AGAIN_EVERY, HEDGE_AFTER, LOOKUP_TIMEOUT, lookup_hedged};

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use deadpool_postgres::Connect;
use futures_util::future::BoxFuture;
use tokio::task::JoinHandle;
use tokio_postgres::config::Host;
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres::{Client, Config, Connection, Error, Socket};

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

/// A connection waits this long for a fresh answer before it goes to the
/// addresses the name had last.
pub const STALE_AFTER: Duration = Duration::from_millis(500);

/// The process's last answers: pools and migration connections alike.
static KNOWN: LazyLock<Arc<known::KnownAddresses>> = LazyLock::new(Default::default);

/// Connects like [`Config::connect`], with the server's name looked up
/// hedged, or its last addresses when the resolver is quiet; each address
/// is tried in turn (the name stays the host's for TLS).
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
    let owned = name.to_owned();
    let resolved = KNOWN
        .resolve(name, port, STALE_AFTER, move || async move {
            lookup_hedged(&owned, port).await
        })
        .await;
    let addresses = match resolved {
        Ok(known::Resolved::Fresh(found)) if !found.is_empty() => found,
        Ok(known::Resolved::Stale { known, lookup }) => {
            tracing::warn!(
                db.host = name,
                wait.ms = STALE_AFTER.as_millis() as u64,
                "no DNS answer in time; connecting to the addresses the name had last"
            );
            match connect_each(config, &tls, &known).await {
                Ok(connected) => return Ok(connected),
                // They are gone: wait for what the resolver says now.
                Err(err) => match lookup.answer().await {
                    Ok(found) if !found.is_empty() && found != known => found,
                    _ => return Err(err),
                },
            }
        }
        // Let tokio-postgres look it up and say what is wrong.
        _ => return config.connect(tls).await,
    };
    connect_each(config, &tls, &addresses).await
}

/// Tries each of `addresses` in turn; the last failure when none answers.
async fn connect_each<T>(
    config: &Config,
    tls: &T,
    addresses: &[SocketAddr],
) -> Result<(Client, Connection<Socket, T::Stream>), Error>
where
    T: MakeTlsConnect<Socket> + Clone,
{
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
