//! Schedules: a handler's timed POSTs, once per fleet per tick however many
//! replicas share the database, to a path no client can reach; a path a
//! route matches is refused at load.

mod support;

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use support::admin::handlers_report;
use support::metrics::{scrape, value};
use support::{Host, PROBE_ENTRY, TestDb, client, handlers_dir, test_handler};

const TOKEN: &str = "schedules-test-admin-token";
const PERIOD_SECS: u64 = 2;

async fn ticks(db: &TestDb) -> i64 {
    db.client()
        .await
        .query_one(
            "SELECT count(*) FROM probe.notes WHERE note = 'tick:tick'",
            &[],
        )
        .await
        .map(|row| row.get(0))
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn two_replicas_run_each_tick_once_and_no_client_can_send_it() {
    let db = TestDb::start();
    let manifest = format!(
        "{PROBE_ENTRY}[handlers.probe.schedules.tick]\nevery = \"{PERIOD_SECS}s\"\n\
         path = \"/_schedules/probe/tick\"\n"
    );
    let dir = handlers_dir(&manifest, &[("probe.wasm", test_handler("probe-v1"))]);
    let (a, b) = tokio::join!(
        Host::serve(&db, dir.path(), &["--admin-token", TOKEN]),
        Host::serve(&db, dir.path(), &["--admin-token", TOKEN]),
    );
    // Count whole periods from the first tick on.
    let deadline = Instant::now() + Duration::from_secs(10);
    while ticks(&db).await == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let first = Instant::now();
    assert_eq!(ticks(&db).await, 1, "{}", a.logs());
    let periods = 4;
    // Half a period past the last expected tick: late ticks still count,
    // and the next cannot come early (the database clock sets them).
    tokio::time::sleep(Duration::from_millis(periods * PERIOD_SECS * 1000 + 1000)).await;
    let ran = ticks(&db).await;
    let elapsed = first.elapsed().as_secs_f64();
    assert_eq!(
        ran,
        1 + periods as i64,
        "{ran} ticks in {elapsed:.1} s of a {PERIOD_SECS}-second schedule on two replicas"
    );

    // Each replica counts its own runs; together, every tick once.
    let mut runs = 0.0;
    for host in [&a, &b] {
        runs += value(
            &scrape(host).await,
            "geofn_schedule_runs_total",
            &[
                ("handler", "probe"),
                ("schedule", "tick"),
                ("outcome", "ok"),
            ],
        );
    }
    let counted = ticks(&db).await as f64;
    assert!(
        (runs - counted).abs() <= 1.0,
        "metrics say {runs}, the table {counted}"
    );
    let report = handlers_report(&a.base, TOKEN).await;
    let schedule = &report["handlers"][0]["schedules"][0];
    assert_eq!(schedule["name"], "tick");
    assert_eq!(schedule["every"], "2s");
    assert_eq!(schedule["path"], "/_schedules/probe/tick");

    // The schedule's path is no route: a client gets a 404, nothing runs.
    let before = ticks(&db).await;
    let response = client()
        .post(a.url("/_schedules/probe/tick"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    // A replica gone mid-period holds nothing: the other keeps the beat.
    a.kill().await;
    tokio::time::sleep(Duration::from_millis(2 * PERIOD_SECS * 1000 + 500)).await;
    let after = ticks(&db).await;
    assert!(
        (after - before - 2).abs() <= 1,
        "{} ticks in two periods with one replica left",
        after - before
    );
    drop(b);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_schedule_a_route_could_reach_is_refused() {
    let db = TestDb::start();
    let manifest = format!(
        "{PROBE_ENTRY}[handlers.probe.schedules.tick]\nevery = \"1m\"\npath = \"/probe/tick\"\n"
    );
    let dir = handlers_dir(&manifest, &[("probe.wasm", test_handler("probe-v1"))]);
    let mut command = Host::serve_command(&db, dir.path());
    command.args(["--listen", "127.0.0.1:0"]);
    let refused = Host::try_spawn(command)
        .await
        .err()
        .expect("no start with a schedule a client could send");
    assert!(refused.contains("a client could send it"), "{refused}");
}
