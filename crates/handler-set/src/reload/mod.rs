//! Hot swap: a reconcile loop that keeps the served handler set equal to
//! what the handlers directory says, without a restart or a failed request.
//!
//! trigger ([`trigger`]: inotify through `notify`, plus a stat-polling
//! fallback for file systems where events are unreliable) → coalesce a
//! burst of events → read a [`Snapshot`](crate::snapshot::Snapshot) → if
//! its fingerprint differs, build a new set (compiling only new bytes, off
//! the async workers) → swap it in whole. A set that fails to build is
//! rejected with one log line and a metric; the running set stays.
//! Requests in flight keep the set they started with.

pub mod stats;
pub mod timing;
pub mod trigger;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

pub use stats::ReloadStats;

use geofn_db::tls::TlsSettings;

use crate::build::build_timed;
use crate::fleet::overlay::Fleet;
use crate::loader::Loader;
use crate::set::Registry;
use crate::snapshot::read_snapshot;
use timing::{Laps, SwapTimings};

/// How often the polling fallback compares file metadata when enabled.
pub const DEFAULT_POLL: Duration = Duration::from_secs(2);
/// The first retry of a reload that failed for a cause that may pass
/// ([`LoadError::may_pass`](crate::error::LoadError::may_pass)); each next
/// one waits twice as long, up to [`RETRY_MAX`].
pub const RETRY_FIRST: Duration = Duration::from_secs(1);
/// The longest wait between retries of a transiently failed reload.
pub const RETRY_MAX: Duration = Duration::from_secs(30);

/// What the reload loop needs.
pub struct Reloader {
    /// Directory with `geofn.toml` and the components.
    pub dir: PathBuf,
    /// What building a handler set needs.
    pub loader: Loader,
    /// The set being served.
    pub registry: Arc<Registry>,
    /// Counters exposed to admins and metrics.
    pub stats: Arc<ReloadStats>,
    /// Metadata polling interval; `None` relies on file events alone.
    pub poll: Option<Duration>,
    /// Handlers pushed to the database, laid over the directory's.
    pub fleet: Arc<Fleet>,
    /// Where to LISTEN for pushes; `None` reconciles on file changes only.
    pub listen: Option<(tokio_postgres::Config, TlsSettings)>,
}

impl Reloader {
    /// Starts watching now, and runs the loop on a task until `shutdown` is
    /// cancelled. The watcher exists before this returns, and the loop's
    /// first act is a reconcile, so no change made after the initial load
    /// is missed.
    pub fn spawn(self, shutdown: CancellationToken) -> tokio::task::JoinHandle<()> {
        let (events, changed) = tokio::sync::mpsc::channel(1);
        let vars = self.loader.variables.dir.as_deref();
        let watcher = match trigger::watch(&self.dir, vars, events.clone()) {
            Ok(watcher) => Some(watcher),
            Err(err) => {
                tracing::warn!(
                    dir = %self.dir.display(), error = %err,
                    "cannot watch the handlers (or variables) directory; relying on polling"
                );
                None
            }
        };
        // Fleet notifications on a channel of their own: one arrives per
        // push, already whole, so it needs no settling like file events.
        let (pushes, pushed) = tokio::sync::mpsc::channel(1);
        if let Some((config, tls)) = self.listen.clone() {
            tokio::spawn(crate::fleet::listen::run(
                config,
                tls,
                self.fleet.secret().clone(),
                pushes,
                shutdown.clone(),
            ));
        }
        tokio::spawn(self.run(watcher, changed, pushed, shutdown))
    }

    async fn run(
        self,
        // Kept alive for as long as the loop runs.
        _watcher: Option<notify::RecommendedWatcher>,
        mut changed: tokio::sync::mpsc::Receiver<()>,
        mut pushed: tokio::sync::mpsc::Receiver<()>,
        shutdown: CancellationToken,
    ) {
        let poll_every = self.poll.unwrap_or(Duration::from_secs(3600));
        let mut poll = tokio::time::interval(poll_every);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut seen = self.stat().await;
        let mut last_rejection: Option<String> = None;
        // Without a retry, a replica whose reload met a passing fault (the
        // database restarting, a registry timing out) would serve the old
        // set until the next change, however long that is.
        let mut retry = Retry::default();
        let outcome = self.reconcile(&mut last_rejection, Duration::ZERO).await;
        retry.after(outcome);
        loop {
            let outcome = tokio::select! {
                () = shutdown.cancelled() => break,
                Some(()) = changed.recv() => {
                    let settling = Instant::now();
                    trigger::settle(&mut changed).await;
                    seen = self.stat().await;
                    self.reconcile(&mut last_rejection, settling.elapsed()).await
                }
                Some(()) = pushed.recv() => {
                    self.reconcile(&mut last_rejection, Duration::ZERO).await
                }
                _ = poll.tick(), if self.poll.is_some() => {
                    let now = self.stat().await;
                    if now == seen {
                        continue;
                    }
                    seen = now;
                    self.reconcile(&mut last_rejection, Duration::ZERO).await
                }
                () = retry.wait(), if retry.pending() => {
                    self.reconcile(&mut last_rejection, Duration::ZERO).await
                }
            };
            retry.after(outcome);
        }
    }

    /// What the polling fallback compares: the handlers directory's
    /// metadata and the variables directory's.
    async fn stat(&self) -> (Vec<trigger::Stat>, Option<String>) {
        (
            trigger::stat_fingerprint(&self.dir).await,
            self.loader.variables.fingerprint().await,
        )
    }

    /// Brings the served set in line with the directory, or leaves it alone.
    /// `settled` is how long the burst of events that woke it lasted.
    async fn reconcile(&self, last_rejection: &mut Option<String>, settled: Duration) -> Outcome {
        let mut timings = SwapTimings {
            settle: settled,
            ..SwapTimings::default()
        };
        let mut laps = Laps::start();
        let current = self.registry.current();
        let mut snapshot = read_snapshot(&self.dir, &self.loader).await;
        if let Ok(snapshot) = &mut snapshot
            && let Err(err) = self.fleet.overlay(snapshot).await
        {
            // Without the stored handlers the set would fall back to the
            // directory's: keep serving what we have, and look again.
            tracing::warn!(error = %err, "cannot read pushed handlers; keeping the current set");
            return Outcome::Passing;
        }
        let result = match snapshot {
            Ok(snapshot) if snapshot.fingerprint == current.fingerprint() => {
                *last_rejection = None;
                return Outcome::Settled;
            }
            Ok(snapshot) => {
                timings.snapshot = laps.lap();
                build_timed(
                    &self.loader,
                    &self.dir,
                    &snapshot,
                    Some(&current),
                    &mut timings,
                )
                .await
                .map_err(|err| (err, Some(snapshot.fingerprint)))
            }
            Err(err) => Err((err, None)),
        };
        match result {
            Ok(set) => {
                for handler in set.handlers() {
                    let before = current.handlers().iter().find(|h| h.name == handler.name);
                    if before.map(|b| &b.sha256) != Some(&handler.sha256) {
                        tracing::info!(
                            handler.name = %handler.name,
                            handler.sha256 = %handler.sha256,
                            handler.previous = before.map_or("none", |b| b.sha256.as_str()),
                            "handler swapped in"
                        );
                    }
                }
                self.registry.swap(set);
                self.stats.applied(&self.registry.current());
                *last_rejection = None;
                timings.record();
                let ms = |took: Duration| took.as_secs_f64() * 1e3;
                tracing::info!(
                    reload.ms = ms(timings.total()),
                    reload.settle_ms = ms(timings.settle),
                    reload.snapshot_ms = ms(timings.snapshot),
                    reload.compile_ms = ms(timings.compile),
                    reload.database_ms = ms(timings.database),
                    reload.assemble_ms = ms(timings.assemble),
                    "handler set reloaded"
                );
                Outcome::Settled
            }
            Err((err, fingerprint)) => {
                let outcome = if err.may_pass() {
                    Outcome::Passing
                } else {
                    Outcome::Settled
                };
                // The same broken state seen again (another event, a poll, a
                // retry) is not news: log and count it once.
                let key = fingerprint.unwrap_or_else(|| err.to_string());
                if last_rejection.as_deref() == Some(key.as_str()) {
                    return outcome;
                }
                *last_rejection = Some(key);
                self.stats.rejected(err.reason(), &err.to_string());
                tracing::warn!(
                    reload.reason = err.reason(),
                    reload.retry = outcome == Outcome::Passing,
                    error = %err,
                    "handler reload rejected; still serving the previous version"
                );
                outcome
            }
        }
    }
}

/// How a reconcile ended, for the retry schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Serving what the directory says, or rejected for good reason.
    Settled,
    /// Rejected for a cause that may pass: try again later.
    Passing,
}

/// When to retry a reload that met a passing fault: after [`RETRY_FIRST`],
/// doubling up to [`RETRY_MAX`], until a reconcile settles.
#[derive(Debug, Default)]
struct Retry {
    next: Option<(Instant, Duration)>,
}

impl Retry {
    fn after(&mut self, outcome: Outcome) {
        self.next = match (outcome, self.next) {
            (Outcome::Settled, _) => None,
            (Outcome::Passing, None) => Some((Instant::now() + RETRY_FIRST, RETRY_FIRST)),
            (Outcome::Passing, Some((_, waited))) => {
                let wait = (waited * 2).min(RETRY_MAX);
                Some((Instant::now() + wait, wait))
            }
        };
    }

    fn pending(&self) -> bool {
        self.next.is_some()
    }

    async fn wait(&self) {
        if let Some((at, _)) = self.next {
            tokio::time::sleep_until(at.into()).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_and_stop_once_settled() {
        let mut retry = Retry::default();
        assert!(!retry.pending());
        let waits: Vec<Duration> = (0..7)
            .map(|_| {
                retry.after(Outcome::Passing);
                retry.next.unwrap().1
            })
            .collect();
        assert_eq!(waits[0], RETRY_FIRST);
        assert_eq!(waits[1], RETRY_FIRST * 2);
        assert_eq!(*waits.last().unwrap(), RETRY_MAX);
        retry.after(Outcome::Settled);
        assert!(!retry.pending());
    }
}
