//! Statements end with their request: one past the handler's deadline is
//! cancelled and its connection comes back idle, and a client that goes
//! away or a host that stops takes its statements with it.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use support::metrics::{scrape, value};
use support::{Host, TestDb, client, get_status_json, points_and_probe_with};

#[tokio::test(flavor = "multi_thread")]
async fn a_statement_past_its_deadline_is_cancelled_and_its_connection_comes_back_idle() {
    let db = TestDb::start();
    // One connection for the slow handler: whatever it ran, its next
    // request gets that same connection.
    let dir = points_and_probe_with(
        "[handlers.slow]\ncomponent = \"probe.wasm\"\nroutes = [\"GET /slow/{action}\"]\n\
         [handlers.slow.limits]\ndeadline_ms = 2000\ndb_connections = 1\n",
    );
    let host = Arc::new(Host::serve(&db, dir.path(), &[]).await);
    let (status, session) = get_status_json(&host.url("/slow/session")).await;
    assert_eq!(status, StatusCode::OK, "{session}");
    assert_eq!(session["statement_timeout"]["text"], "2s", "{session}");

    let started = Instant::now();
    let (status, problem) = get_status_json(&host.url("/slow/sleep?ms=20000")).await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT, "{problem}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );

    // The server stops the statement: nothing sleeps any more.
    let observer = db.client().await;
    let mut still = i64::MAX;
    for _ in 0..50 {
        still = sleeping(&observer).await;
        if still == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(still, 0, "the statement outlived its call");

    // A burst to the same handler (its one connection), another handler
    // and readiness: all answered, fast.
    let mut burst = Vec::new();
    for i in 0..45 {
        let host = host.clone();
        burst.push(tokio::spawn(async move {
            let path = match i % 3 {
                0 => "/slow/sleep?ms=1",
                1 => "/points?limit=1",
                _ => "/status",
            };
            let started = Instant::now();
            let (status, body) = get_status_json(&host.url(path)).await;
            (path, status, started.elapsed(), body)
        }));
    }
    for request in burst {
        let (path, status, took, body) = request.await.unwrap();
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        assert!(took < Duration::from_secs(2), "{path} took {took:?}");
    }
    // Ended by the host's cancel, or by the server's statement_timeout
    // (equal to the deadline) when it happened to fire first.
    let samples = scrape(&host).await;
    let ended = value(
        &samples,
        "geofn_db_cancellations_total",
        &[("handler", "slow")],
    ) + value(
        &samples,
        "geofn_db_statement_timeouts_total",
        &[("handler", "slow")],
    );
    assert!(ended >= 1.0, "{}", host.logs());
}

/// Active `pg_sleep` statements, as the server sees them.
async fn sleeping(observer: &tokio_postgres::Client) -> i64 {
    observer
        .query_one(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE state = 'active' AND query LIKE '%pg_sleep%' AND pid <> pg_backend_pid()",
            &[],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_goes_away_takes_its_statement_with_it() {
    let db = TestDb::start();
    let dir = points_and_probe_with("");
    let host = Host::serve(&db, dir.path(), &[]).await;
    let observer = db.client().await;
    // Far from the 10 s deadline and its statement_timeout: only the host
    // can have ended it.
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let gone = impatient.get(host.url("/probe/sleep?ms=8000")).send().await;
    assert!(gone.is_err(), "the request should have timed out");
    let started = Instant::now();
    while sleeping(&observer).await > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "the statement outlived its client"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let samples = scrape(&host).await;
    assert_eq!(
        value(
            &samples,
            "geofn_db_cancellations_total",
            &[("handler", "probe")]
        ),
        1.0
    );
    assert_eq!(
        get_status_json(&host.url("/probe/sleep?ms=1")).await.0,
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_host_that_stops_takes_its_statements_with_it() {
    let db = TestDb::start();
    let dir = points_and_probe_with("");
    let host = Host::serve(&db, dir.path(), &["--drain-timeout-secs", "1"]).await;
    let observer = db.client().await;
    let url = host.url("/probe/sleep?ms=30000");
    let request = tokio::spawn(async move { client().get(url).send().await });
    while sleeping(&observer).await == 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let status = host.terminate().await;
    assert!(status.success(), "{status}");
    drop(request);
    // The server notices its client is gone (client_connection_check_interval).
    let started = Instant::now();
    while sleeping(&observer).await > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the statement outlived the host"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
