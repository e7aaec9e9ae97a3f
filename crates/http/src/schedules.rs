//! Schedules: every replica watches the handlers' schedules, and for each
//! tick the one that claims it in the database (`geofn_db::schedule_leases`)
//! runs it: a POST to the schedule's path, through the same admission,
//! memory budget, limits and deadline as a client's request, to a path none
//! of the handler's routes is, so no client can send it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use axum::body::Body;
use geofn_contract::schedules::Timing;
use geofn_db::schedule_leases::{Claimed, Next, claim};
use geofn_handler_set::set::{LoadedHandler, ResolvedSchedule};
use geofn_runtime::bindings::Matched;
use geofn_telemetry::metrics::{SCHEDULE_DURATION, SCHEDULE_RUNS};
use tokio_util::sync::CancellationToken;

use crate::dispatch::run_handler;
use crate::state::AppState;

/// The header a scheduled request carries: the schedule's name.
pub const SCHEDULE_HEADER: &str = "geofn-schedule";
/// Longest a replica goes without looking at the schedules (new ones, a
/// tick another replica let pass).
const LOOK_EVERY: Duration = Duration::from_secs(1);

/// Runs the schedules of whatever set is served until `shutdown`.
pub async fn run(state: AppState, shutdown: CancellationToken) {
    let replica = format!(
        "{}:{}",
        std::env::var("HOSTNAME").unwrap_or_else(|_| "geofn".into()),
        std::process::id()
    );
    let mut next_look: HashMap<(Arc<str>, String), Instant> = HashMap::new();
    loop {
        let set = state.registry.current();
        let now = Instant::now();
        let mut wake = now + LOOK_EVERY;
        next_look.retain(|(handler, schedule), _| {
            set.handlers()
                .iter()
                .any(|h| h.name == *handler && h.schedules.iter().any(|s| s.name == *schedule))
        });
        for handler in set.handlers() {
            for schedule in &handler.schedules {
                let key = (handler.name.clone(), schedule.name.clone());
                if next_look.get(&key).is_some_and(|at| *at > now) {
                    continue;
                }
                let wait = match claim(
                    &state.pool,
                    &handler.name,
                    &schedule.name,
                    next(&schedule.timing),
                    &replica,
                )
                .await
                {
                    Ok(Claimed::Won) => {
                        tokio::spawn(run_tick(state.clone(), handler.clone(), schedule.clone()));
                        LOOK_EVERY
                    }
                    Ok(Claimed::NotDue(wait)) => wait.min(LOOK_EVERY),
                    Err(err) => {
                        tracing::warn!(error = %err, "cannot claim a schedule's tick; trying again shortly");
                        LOOK_EVERY
                    }
                };
                let at = Instant::now() + wait;
                wake = wake.min(at);
                next_look.insert(key, at);
            }
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep_until(wake.into()) => {}
        }
    }
}

/// The tick after this one.
fn next(timing: &Timing) -> Next {
    match timing {
        Timing::Every(period) => Next::After(*period),
        Timing::Cron(cron) => {
            let now = chrono::Utc::now();
            match cron.find_next_occurrence(&now, false) {
                Ok(at) => Next::At(SystemTime::from(at)),
                // A pattern with no next match (a date long past): look
                // again in a day rather than never.
                Err(_) => Next::After(Duration::from_secs(86_400)),
            }
        }
    }
}

/// One tick: the POST, its outcome in the metrics, the log and the stats.
async fn run_tick(state: AppState, handler: Arc<LoadedHandler>, schedule: ResolvedSchedule) {
    let started = Instant::now();
    let started_at = SystemTime::now();
    let request = axum::http::Request::builder()
        .method("POST")
        .uri(&schedule.path)
        .header(SCHEDULE_HEADER, &schedule.name)
        .body(Body::empty())
        .expect("a path checked at load");
    let route = Matched {
        template: schedule.path.clone(),
        params: Vec::new(),
    };
    let response = run_handler(&state, &handler, route, None, request).await;
    let status = response.status().as_u16();
    let took = started.elapsed();
    let outcome = if status < 400 { "ok" } else { "failed" };
    metrics::counter!(SCHEDULE_RUNS, "handler" => handler.name.clone(), "schedule" => schedule.name.clone(), "outcome" => outcome)
        .increment(1);
    metrics::histogram!(SCHEDULE_DURATION, "handler" => handler.name.clone(), "schedule" => schedule.name.clone())
        .record(took.as_secs_f64());
    state
        .schedules
        .record(&handler.name, &schedule.name, started_at, status, took);
    if status < 400 {
        tracing::info!(handler.name = %handler.name, schedule = %schedule.name, status, took_ms = took.as_secs_f64() * 1e3, "schedule ran");
    } else {
        tracing::warn!(handler.name = %handler.name, schedule = %schedule.name, status, took_ms = took.as_secs_f64() * 1e3, "schedule failed");
    }
}
