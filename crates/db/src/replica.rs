//! Reads on a streaming replica, and when not to.
//!
//! A background task asks, every [`POLL_EVERY`], the primary how far its
//! WAL has been written and the replica how far it has replayed. From the
//! two it keeps what a request needs to choose where its reads go:
//!
//! - how far behind the replica is, in time: it has replayed everything the
//!   primary had written at the newest sample whose position it has reached
//!   (an idle pair is 0 s behind, however old its last write);
//! - the position it has replayed, to serve a client that presents a
//!   read-your-writes token only once the replica has its write.
//!
//! The replica unreachable, or behind by more than the bound, and reads go
//! to the primary until it is back: no request fails for the replica.

use std::collections::VecDeque;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use deadpool_postgres::Pool;
use tokio_postgres::types::PgLsn;

use geofn_telemetry::metrics as m;

/// How often the primary and the replica are asked for their positions.
pub const POLL_EVERY: Duration = Duration::from_millis(100);
/// Default bound on how far behind the replica may be and still serve reads.
pub const DEFAULT_MAX_LAG: Duration = Duration::from_secs(5);
/// How long one poll may take before the replica counts as unreachable.
const POLL_TIMEOUT: Duration = Duration::from_secs(2);

/// Why a read request's statements went to the primary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    /// The replica could not be reached (at the last poll, or for a statement).
    Unavailable,
    /// The replica is further behind than the bound.
    Lagging,
    /// The client's token names a write the replica has not replayed yet.
    BehindToken,
    /// A statement the replica refused as read-only: it writes.
    ReadOnly,
    /// The replica cancelled the statement for a conflict with recovery.
    RecoveryConflict,
    /// The replica did not know a table, column, function or grant yet: a
    /// migration or grant not replayed yet.
    SchemaBehind,
}

impl Fallback {
    /// Every reason, as `/metrics` labels them.
    pub const LABELS: &'static [&'static str] = &[
        "unavailable",
        "lagging",
        "behind-token",
        "read-only",
        "recovery-conflict",
        "schema-behind",
    ];

    /// The reason as `/metrics` labels it.
    pub fn label(self) -> &'static str {
        match self {
            Fallback::Unavailable => "unavailable",
            Fallback::Lagging => "lagging",
            Fallback::BehindToken => "behind-token",
            Fallback::ReadOnly => "read-only",
            Fallback::RecoveryConflict => "recovery-conflict",
            Fallback::SchemaBehind => "schema-behind",
        }
    }

    /// Counts one fallback.
    pub fn count(self) {
        metrics::counter!(m::READ_FALLBACKS, "reason" => self.label()).increment(1);
    }

    /// Whether a statement that failed on the replica with SQLSTATE `code`
    /// may succeed on the primary, and why.
    pub fn for_sqlstate(code: &str) -> Option<Self> {
        match code {
            // read_only_sql_transaction
            "25006" => Some(Fallback::ReadOnly),
            // serialization_failure: "canceling statement due to conflict with recovery"
            "40001" => Some(Fallback::RecoveryConflict),
            // undefined_table, invalid_schema_name, undefined_column,
            // undefined_function, insufficient_privilege
            "42P01" | "3F000" | "42703" | "42883" | "42501" => Some(Fallback::SchemaBehind),
            // admin_shutdown, crash_shutdown, cannot_connect_now
            "57P01" | "57P02" | "57P03" => Some(Fallback::Unavailable),
            _ => None,
        }
    }
}

/// Where a request's reads go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadTarget {
    /// The replica.
    Replica,
    /// The primary, and why.
    Primary(Fallback),
}

/// The replica as last seen.
#[derive(Debug, Clone, Copy)]
struct Seen {
    /// Position it had replayed.
    replayed: PgLsn,
    /// How far behind the primary it was.
    lag: Duration,
}

/// Samples of the primary's WAL position, oldest first.
#[derive(Debug, Default)]
struct Samples(VecDeque<(Instant, PgLsn)>);

impl Samples {
    /// Records the primary at `at`, forgetting samples older than `keep`.
    fn record(&mut self, at: Instant, written: PgLsn, keep: Duration) {
        self.0.push_back((at, written));
        while let Some(&(oldest, _)) = self.0.front() {
            if at.duration_since(oldest) > keep && self.0.len() > 1 {
                self.0.pop_front();
            } else {
                break;
            }
        }
    }

    /// How far behind a server that has replayed `replayed` is at `now`:
    /// the age of the newest sample it has reached, or, when it has
    /// reached none, at least the age of the oldest.
    fn lag(&self, replayed: PgLsn, now: Instant) -> Duration {
        let reached = self
            .0
            .iter()
            .rev()
            .find(|(_, written)| *written <= replayed);
        match (reached, self.0.front()) {
            (Some((at, _)), _) | (None, Some((at, _))) => now.duration_since(*at),
            (None, None) => Duration::ZERO,
        }
    }
}

/// Chooses where read requests' statements go.
#[derive(Debug)]
pub struct ReadRouter {
    max_lag: Duration,
    seen: RwLock<Option<Seen>>,
}

impl ReadRouter {
    /// A router that sends reads to the primary until the first poll.
    pub fn new(max_lag: Duration) -> Arc<Self> {
        Arc::new(Self {
            max_lag,
            seen: RwLock::new(None),
        })
    }

    /// The bound on the replica's lag.
    pub fn max_lag(&self) -> Duration {
        self.max_lag
    }

    /// Where a read request presenting `token` (the position of its
    /// client's last write, if any) is served.
    pub fn target(&self, token: Option<PgLsn>) -> ReadTarget {
        let seen = *self.seen.read().unwrap_or_else(|e| e.into_inner());
        let Some(seen) = seen else {
            return ReadTarget::Primary(Fallback::Unavailable);
        };
        if seen.lag > self.max_lag {
            return ReadTarget::Primary(Fallback::Lagging);
        }
        match token {
            Some(token) if token > seen.replayed => ReadTarget::Primary(Fallback::BehindToken),
            _ => ReadTarget::Replica,
        }
    }

    fn update(&self, seen: Option<Seen>) {
        let was_up = {
            let mut slot = self.seen.write().unwrap_or_else(|e| e.into_inner());
            std::mem::replace(&mut *slot, seen).is_some()
        };
        metrics::gauge!(m::REPLICA_UP).set(if seen.is_some() { 1.0 } else { 0.0 });
        if let Some(seen) = seen {
            metrics::gauge!(m::REPLICA_LAG).set(seen.lag.as_secs_f64());
        }
        match (was_up, seen.is_some()) {
            (false, true) => tracing::info!("read replica reachable: reads go to it"),
            (true, false) => {
                tracing::warn!("read replica unreachable: reads go to the primary")
            }
            _ => {}
        }
    }

    /// Polls `primary` and `replica` (both as the host's role) for as long
    /// as the router is in use.
    pub fn spawn_monitor(
        self: &Arc<Self>,
        primary: Pool,
        replica: Pool,
    ) -> tokio::task::JoinHandle<()> {
        let router = Arc::downgrade(self);
        let keep = self.max_lag * 2 + POLL_EVERY;
        tokio::spawn(async move {
            let mut samples = Samples::default();
            let mut ticks = tokio::time::interval(POLL_EVERY);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                if router.strong_count() == 0 {
                    return;
                }
                let polled = tokio::time::timeout(POLL_TIMEOUT, async {
                    let at = Instant::now();
                    // The primary first: a replica that reached this
                    // position had everything the primary had at `at`.
                    if let Ok(written) = position(&primary, PRIMARY_POSITION).await {
                        samples.record(at, written, keep);
                    }
                    position(&replica, REPLICA_POSITION).await
                })
                .await;
                let seen = match polled {
                    Ok(Ok(replayed)) => Some(Seen {
                        replayed,
                        lag: samples.lag(replayed, Instant::now()),
                    }),
                    Ok(Err(err)) => {
                        tracing::debug!(error = %err, "read replica poll failed");
                        None
                    }
                    Err(_) => None,
                };
                match router.upgrade() {
                    Some(router) => router.update(seen),
                    None => return,
                }
            }
        })
    }
}

/// How far the primary's WAL has been written.
const PRIMARY_POSITION: &str = "SELECT pg_current_wal_lsn()";
/// How far a standby has replayed; a server that is not one (promoted,
/// or the primary itself) has everything it wrote.
const REPLICA_POSITION: &str = "SELECT CASE WHEN pg_is_in_recovery() \
     THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END";

async fn position(pool: &Pool, sql: &str) -> Result<PgLsn, String> {
    let client = pool.get().await.map_err(|e| e.to_string())?;
    let row = client.query_one(sql, &[]).await.map_err(|e| {
        // A connection the server dropped is not given back to the pool.
        if e.is_closed() {
            drop(deadpool_postgres::Object::take(client));
        }
        e.to_string()
    })?;
    row.try_get::<_, Option<PgLsn>>(0)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| "the replica has replayed nothing yet".to_owned())
}

/// The position of everything written so far on the primary, for a
/// read-your-writes token: at or past the commit of every statement the
/// request ran.
pub const WRITTEN_POSITION: &str = "SELECT pg_current_wal_insert_lsn()";

#[cfg(test)]
mod tests {
    use super::*;

    fn lsn(v: u64) -> PgLsn {
        PgLsn::from(v)
    }

    #[test]
    fn an_idle_pair_is_not_behind_however_old_the_last_write() {
        let start = Instant::now();
        let mut samples = Samples::default();
        for i in 0..50 {
            samples.record(start + POLL_EVERY * i, lsn(100), Duration::from_secs(10));
        }
        let now = start + POLL_EVERY * 50;
        assert!(samples.lag(lsn(100), now) <= POLL_EVERY);
    }

    #[test]
    fn a_replica_is_as_old_as_the_newest_primary_position_it_reached() {
        let start = Instant::now();
        let mut samples = Samples::default();
        for i in 0..30u32 {
            samples.record(
                start + Duration::from_secs(u64::from(i)),
                lsn(u64::from(i) * 10),
                Duration::from_secs(60),
            );
        }
        let now = start + Duration::from_secs(30);
        // Replayed up to the sample taken at 20 s: 10 s behind.
        assert_eq!(samples.lag(lsn(205), now), Duration::from_secs(10));
        // Behind every sample kept: at least as old as the oldest.
        assert_eq!(samples.lag(lsn(0), now), Duration::from_secs(30));
    }

    #[test]
    fn old_samples_are_forgotten_but_one_is_always_kept() {
        let start = Instant::now();
        let mut samples = Samples::default();
        samples.record(start, lsn(1), Duration::from_secs(1));
        samples.record(
            start + Duration::from_secs(5),
            lsn(2),
            Duration::from_secs(1),
        );
        assert_eq!(samples.0.len(), 1);
    }

    #[test]
    fn reads_follow_the_replica_state() {
        let router = ReadRouter::new(Duration::from_secs(1));
        assert_eq!(
            router.target(None),
            ReadTarget::Primary(Fallback::Unavailable)
        );
        router.update(Some(Seen {
            replayed: lsn(100),
            lag: Duration::ZERO,
        }));
        assert_eq!(router.target(None), ReadTarget::Replica);
        assert_eq!(router.target(Some(lsn(100))), ReadTarget::Replica);
        assert_eq!(
            router.target(Some(lsn(101))),
            ReadTarget::Primary(Fallback::BehindToken)
        );
        router.update(Some(Seen {
            replayed: lsn(100),
            lag: Duration::from_secs(2),
        }));
        assert_eq!(router.target(None), ReadTarget::Primary(Fallback::Lagging));
    }
}
