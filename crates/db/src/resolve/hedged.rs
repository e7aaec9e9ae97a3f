//! One name looked up through the system's resolver, hedged: a second
//! query beside a slow first one, then another every second while none
//! has answered; the first answer wins.
//!
//! A resolver that drops one query is answered by the hedge. One gone
//! quiet for a while (podman's aardvark-dns drops every query begun in a
//! 6-7 s window while it reloads) answers the first query sent after it
//! came back, where glibc would wait out its 5 s timeout, once per
//! attempt, for a query it sent into the quiet.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;

/// A lookup without an answer after this gets a second one beside it.
pub const HEDGE_AFTER: Duration = Duration::from_millis(250);
/// After the hedge, another query goes out this often while none has
/// answered (each holds one blocking thread until glibc gives it up).
pub const ASK_AGAIN_EVERY: Duration = Duration::from_secs(1);
/// All the queries together may take this long.
pub const LOOKUP_TIMEOUT: Duration = Duration::from_secs(10);

/// Looks `name` up, hedged (see the module's note), at most
/// [`LOOKUP_TIMEOUT`] in all.
pub async fn lookup_hedged(name: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
    let ask = || {
        let name = name.to_owned();
        async move {
            tokio::net::lookup_host((name.as_str(), port))
                .await
                .map(Iterator::collect::<Vec<_>>)
        }
    };
    tokio::time::timeout(LOOKUP_TIMEOUT, asking_until_answered(name, ask))
        .await
        .unwrap_or_else(|_| {
            Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no DNS answer for {name} within {LOOKUP_TIMEOUT:?}"),
            ))
        })
}

/// Sends `ask` at once, again after [`HEDGE_AFTER`] and then every
/// [`ASK_AGAIN_EVERY`] while no query has answered. The first success
/// wins; a failure is the answer only when no other query is still out
/// (a name that does not exist fails as fast as the resolver says so).
async fn asking_until_answered<F, Fut>(name: &str, ask: F) -> std::io::Result<Vec<SocketAddr>>
where
    F: Fn() -> Fut,
    Fut: Future<Output = std::io::Result<Vec<SocketAddr>>>,
{
    let mut out = FuturesUnordered::new();
    out.push(ask());
    // A deadline, not a fresh sleep per turn: a query failing while others
    // are out must not push the next one back.
    let mut next = tokio::time::Instant::now() + HEDGE_AFTER;
    loop {
        tokio::select! {
            Some(answer) = out.next() => match answer {
                Ok(found) => return Ok(found),
                Err(err) if out.is_empty() => return Err(err),
                Err(_) => {}
            },
            () = tokio::time::sleep_until(next) => {
                tracing::debug!(
                    db.host = name,
                    asked = out.len(),
                    "no DNS answer yet; asking again beside the queries still out"
                );
                out.push(ask());
                next += ASK_AGAIN_EVERY;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::time::Instant;

    /// A resolver that drops every query sent before `quiet_until` (glibc
    /// then waits 5 s twice) and answers the others at once.
    fn quiet_resolver(
        quiet_until: Instant,
        asked: Arc<AtomicUsize>,
    ) -> impl Fn() -> std::pin::Pin<Box<dyn Future<Output = std::io::Result<Vec<SocketAddr>>>>>
    {
        move || {
            asked.fetch_add(1, Ordering::SeqCst);
            let dropped = Instant::now() < quiet_until;
            Box::pin(async move {
                if dropped {
                    tokio::time::sleep(Duration::from_secs(10)).await;
                    return Err(std::io::Error::other("glibc gave up"));
                }
                Ok(vec![SocketAddr::from(([10, 0, 0, 1], 5432))])
            })
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_resolver_back_from_quiet_answers_within_a_second() {
        let started = Instant::now();
        let asked = Arc::new(AtomicUsize::new(0));
        let ask = quiet_resolver(started + Duration::from_millis(6_500), asked.clone());
        let found = asking_until_answered("db", ask).await.unwrap();
        let waited = started.elapsed();
        assert_eq!(found, vec![SocketAddr::from(([10, 0, 0, 1], 5432))]);
        // Asked at 0, 0.25, 1.25 ... 6.25 (dropped) and 7.25 s (answered).
        assert_eq!(waited, Duration::from_millis(7_250));
        assert_eq!(asked.load(Ordering::SeqCst), 9);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failure_beside_other_queries_keeps_the_schedule() {
        let started = Instant::now();
        let asked = Arc::new(AtomicUsize::new(0));
        let quiet = quiet_resolver(started + Duration::from_secs(2), asked.clone());
        let ask = move || {
            let first = asked.load(Ordering::SeqCst) == 0;
            let answer = quiet();
            Box::pin(async move {
                if first {
                    tokio::time::sleep(Duration::from_millis(900)).await;
                    return Err(std::io::Error::other("SERVFAIL"));
                }
                answer.await
            }) as std::pin::Pin<Box<dyn Future<Output = _>>>
        };
        asking_until_answered("db", ask).await.unwrap();
        // Asked at 0 (fails at 0.9 s), 0.25, 1.25 (both dropped) and 2.25 s;
        // the failure at 0.9 s does not move the third query to 1.9 s.
        assert_eq!(started.elapsed(), Duration::from_millis(2_250));
    }

    #[tokio::test(start_paused = true)]
    async fn a_prompt_failure_is_the_answer() {
        let started = Instant::now();
        let ask = || async { Err::<Vec<SocketAddr>, _>(std::io::Error::other("NXDOMAIN")) };
        let err = asking_until_answered("db", ask).await.unwrap_err();
        assert_eq!(err.to_string(), "NXDOMAIN");
        assert_eq!(started.elapsed(), Duration::ZERO);
    }
}
