//! The addresses a name had last, for when the resolver goes quiet.
//!
//! In containers the resolver itself can stop answering for seconds:
//! podman's aardvark-dns drops queries while it reloads after a container
//! on its network starts or stops (measured on this project's CI machine:
//! every query begun in a 6-7 s window took 5-20 s), so a hedge sent
//! 250 ms after the first query waits as long as the first. Every
//! connection still asks afresh, and an answer within the wait the caller
//! gives is the one used, so a failover by DNS is followed at the next
//! connection; only when none came by then does the connection go to the
//! addresses the name had last, while the lookup goes on and refreshes
//! them. One lookup per name is in flight at a time, however many
//! connections wait for it, so a quiet resolver does not pile up blocked
//! threads.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

/// A lookup's answer, shareable between the connections waiting for it.
pub type Answer = Result<Vec<SocketAddr>, Arc<std::io::Error>>;

/// What a connection goes to.
pub enum Resolved {
    /// The resolver's answer, in time.
    Fresh(Vec<SocketAddr>),
    /// No answer in time: the addresses the name had last, and the lookup
    /// still under way (its answer is there if those fail).
    Stale {
        known: Vec<SocketAddr>,
        lookup: Pending,
    },
}

/// A lookup under way.
#[derive(Clone)]
pub struct Pending(watch::Receiver<Option<Answer>>);

impl Pending {
    /// Waits for the lookup's answer.
    pub async fn answer(mut self) -> Answer {
        match self.0.wait_for(Option::is_some).await {
            Ok(answer) => answer.clone().expect("waited for an answer"),
            Err(_) => Err(Arc::new(std::io::Error::other(
                "the name's lookup ended without an answer",
            ))),
        }
    }
}

/// Per name and port: the addresses last found and the lookup in flight.
#[derive(Default)]
pub struct KnownAddresses {
    entries: Mutex<HashMap<(String, u16), Entry>>,
}

#[derive(Default)]
struct Entry {
    known: Option<Vec<SocketAddr>>,
    in_flight: Option<Pending>,
}

impl KnownAddresses {
    /// Looks `name` up with `lookup` (joining a lookup already under way)
    /// and waits for its answer; when `stale_after` passes without one and
    /// the name has been resolved before, answers with the addresses it
    /// had then.
    pub async fn resolve<F, Fut>(
        self: &Arc<Self>,
        name: &str,
        port: u16,
        stale_after: Duration,
        lookup: F,
    ) -> Result<Resolved, Arc<std::io::Error>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = std::io::Result<Vec<SocketAddr>>> + Send + 'static,
    {
        let (pending, known) = self.join_or_start(name, port, lookup);
        let Some(known) = known else {
            return pending.answer().await.map(Resolved::Fresh);
        };
        match tokio::time::timeout(stale_after, pending.clone().answer()).await {
            Ok(answer) => answer.map(Resolved::Fresh),
            Err(_) => Ok(Resolved::Stale {
                known,
                lookup: pending,
            }),
        }
    }

    fn join_or_start<F, Fut>(
        self: &Arc<Self>,
        name: &str,
        port: u16,
        lookup: F,
    ) -> (Pending, Option<Vec<SocketAddr>>)
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = std::io::Result<Vec<SocketAddr>>> + Send + 'static,
    {
        let key = (name.to_owned(), port);
        let mut entries = self.entries.lock().expect("known addresses poisoned");
        let entry = entries.entry(key.clone()).or_default();
        let pending = match &entry.in_flight {
            Some(pending) => pending.clone(),
            None => {
                let (answered, receiver) = watch::channel(None);
                let pending = Pending(receiver);
                entry.in_flight = Some(pending.clone());
                let asking = lookup();
                let this = Arc::clone(self);
                // Spawned: the answer refreshes the known addresses even when
                // every connection waiting for it went ahead without it.
                tokio::spawn(async move {
                    let answer = asking.await.map_err(Arc::new);
                    this.settle(&key, &answer);
                    let _ = answered.send(Some(answer));
                });
                pending
            }
        };
        (pending, entry.known.clone())
    }

    fn settle(&self, key: &(String, u16), answer: &Answer) {
        let mut entries = self.entries.lock().expect("known addresses poisoned");
        let entry = entries.entry(key.clone()).or_default();
        entry.in_flight = None;
        if let Ok(found) = answer
            && !found.is_empty()
        {
            entry.known = Some(found.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const WAIT: Duration = Duration::from_millis(50);

    fn at(last: u8) -> Vec<SocketAddr> {
        vec![SocketAddr::from(([10, 0, 0, last], 5432))]
    }

    async fn answer_after(
        delay: Duration,
        found: Vec<SocketAddr>,
    ) -> std::io::Result<Vec<SocketAddr>> {
        tokio::time::sleep(delay).await;
        Ok(found)
    }

    #[tokio::test]
    async fn a_name_never_resolved_waits_for_its_answer() {
        let known = Arc::new(KnownAddresses::default());
        let resolved = known
            .resolve("db", 5432, WAIT, || answer_after(WAIT * 4, at(1)))
            .await
            .unwrap();
        assert!(matches!(resolved, Resolved::Fresh(found) if found == at(1)));
    }

    #[tokio::test]
    async fn a_quiet_resolver_gets_the_last_addresses_and_the_answer_refreshes_them() {
        let known = Arc::new(KnownAddresses::default());
        known
            .resolve("db", 5432, WAIT, || answer_after(Duration::ZERO, at(1)))
            .await
            .unwrap();
        let Resolved::Stale {
            known: last,
            lookup,
        } = known
            .resolve("db", 5432, WAIT, || answer_after(WAIT * 4, at(2)))
            .await
            .unwrap()
        else {
            panic!("a slow lookup was waited for");
        };
        assert_eq!(last, at(1));
        assert_eq!(lookup.answer().await.unwrap(), at(2));
        // A failover by DNS is followed: the next prompt answer is used.
        let next = known
            .resolve("db", 5432, WAIT, || answer_after(Duration::ZERO, at(3)))
            .await
            .unwrap();
        assert!(matches!(next, Resolved::Fresh(found) if found == at(3)));
    }

    #[tokio::test]
    async fn a_prompt_answer_wins_over_what_was_known() {
        let known = Arc::new(KnownAddresses::default());
        for last in [1, 2] {
            let resolved = known
                .resolve("db", 5432, WAIT, || answer_after(Duration::ZERO, at(last)))
                .await
                .unwrap();
            assert!(matches!(resolved, Resolved::Fresh(found) if found == at(last)));
        }
    }

    #[tokio::test]
    async fn connections_waiting_together_share_one_lookup() {
        let known = Arc::new(KnownAddresses::default());
        let asked = Arc::new(AtomicUsize::new(0));
        let waiting: Vec<_> = (0..8)
            .map(|_| {
                let known = known.clone();
                let asked = asked.clone();
                tokio::spawn(async move {
                    known
                        .resolve("db", 5432, WAIT, move || {
                            asked.fetch_add(1, Ordering::SeqCst);
                            answer_after(WAIT, at(1))
                        })
                        .await
                        .map(|_| ())
                })
            })
            .collect();
        for one in waiting {
            one.await.unwrap().unwrap();
        }
        assert_eq!(asked.load(Ordering::SeqCst), 1);
    }
}
