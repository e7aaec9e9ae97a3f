//! One name looked up through the system's resolver, hedged: a second
//! query beside the first when the first is slow, the first answer wins.

use std::net::SocketAddr;
use std::time::Duration;

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
