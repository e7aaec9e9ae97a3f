//! Which replica runs a schedule's tick. One row per handler and schedule
//! holds when it is next due; a replica claims a tick by moving `next_due`
//! forward in the statement that checks it is due, so of several replicas
//! on one database exactly one wins each tick, and a replica that dies
//! while running one holds nothing: the next tick is already set.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use deadpool_postgres::Pool;

/// How the tick after the one being claimed is found.
#[derive(Debug, Clone, Copy)]
pub enum Next {
    /// This long after the claimed tick was due (or after now, if the
    /// fleet fell more than a period behind).
    After(Duration),
    /// At this time (a cron pattern's next match).
    At(SystemTime),
}

/// What a claim got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claimed {
    /// This replica runs the tick.
    Won,
    /// Not due (or another replica won it): next due in this long.
    NotDue(Duration),
}

/// Why a claim could not be made.
#[derive(Debug, thiserror::Error)]
#[error("schedule lease for {handler}/{schedule}: {source}")]
pub struct LeaseError {
    handler: String,
    schedule: String,
    source: Box<dyn std::error::Error + Send + Sync>,
}

/// The claim, prepared once per connection (`prepare_cached`): every
/// replica runs it for every schedule once a second, idle or not.
/// `$1` handler, `$2` schedule, `$3` period in seconds or `$4` the next
/// match's epoch seconds, `$5` the replica.
const CLAIM: &str = "\
WITH known AS (
    INSERT INTO geofn_schedule_leases (handler, schedule, next_due)
    VALUES ($1::text, $2::text, coalesce(to_timestamp($4::float8),
            now() + make_interval(secs => $3::float8)))
    ON CONFLICT DO NOTHING
), capped AS (
    UPDATE geofn_schedule_leases
       SET next_due = now() + make_interval(secs => $3)
     WHERE handler = $1 AND schedule = $2 AND $3::float8 IS NOT NULL
       AND next_due > now() + make_interval(secs => $3)
), won AS (
    UPDATE geofn_schedule_leases
       SET next_due = coalesce(
               to_timestamp($4::float8),
               greatest(next_due, now() - make_interval(secs => $3))
                   + make_interval(secs => $3)),
           last_started = now(), last_replica = $5::text
     WHERE handler = $1 AND schedule = $2 AND next_due <= now()
     RETURNING 1
)
SELECT EXISTS (SELECT 1 FROM won),
       coalesce((SELECT greatest(extract(epoch FROM next_due - now()), 0)::float8
                   FROM geofn_schedule_leases
                  WHERE handler = $1 AND schedule = $2), 0)";

/// Claims `handler`'s `schedule` for `replica` if it is due, setting the
/// tick after it per `next`. A schedule never seen before is first due one
/// period (or the pattern's next match) from now, not at every start; one
/// whose period got shorter than its wait is due within the period.
pub async fn claim(
    pool: &Pool,
    handler: &str,
    schedule: &str,
    next: Next,
    replica: &str,
) -> Result<Claimed, LeaseError> {
    let failed = |source: Box<dyn std::error::Error + Send + Sync>| LeaseError {
        handler: handler.to_owned(),
        schedule: schedule.to_owned(),
        source,
    };
    let client = pool.get().await.map_err(|e| failed(e.into()))?;
    let (period, at) = match next {
        Next::After(period) => (Some(period.as_secs_f64()), None),
        Next::At(time) => (
            None,
            Some(
                time.duration_since(UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_secs_f64(),
            ),
        ),
    };
    let database_failure = |e: tokio_postgres::Error| {
        failed(match e.as_db_error() {
            Some(db) => db.message().to_owned().into(),
            None => e.into(),
        })
    };
    let statement = client
        .prepare_cached(CLAIM)
        .await
        .map_err(database_failure)?;
    let row = client
        .query_one(&statement, &[&handler, &schedule, &period, &at, &replica])
        .await
        .map_err(database_failure)?;
    let won: bool = row.get(0);
    let wait: f64 = row.get(1);
    Ok(if won {
        Claimed::Won
    } else {
        Claimed::NotDue(Duration::from_secs_f64(wait.max(0.0)))
    })
}
