//! `max_concurrency` in a handler's limits: at most that many of its
//! requests run at once, the others wait their turn and are all answered,
//! and one that waits past the turn's wait gets a 503 problem with
//! `Retry-After` instead of queueing without end.

mod support;

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use support::{Host, TestDb, client, handlers_dir, metrics, test_handler};

const ADMIN_TOKEN: &str = "concurrency-test-token";

fn manifest(max_concurrency: usize) -> String {
    format!(
        "[handlers.probe]\ncomponent = \"probe.wasm\"\nroutes = [\"GET /probe/{{action}}\"]\n\
         [handlers.probe.limits]\ndeadline_ms = 5000\ndb_connections = 8\n\
         max_concurrency = {max_concurrency}\n"
    )
}

async fn serve(max_concurrency: usize) -> (TestDb, tempfile::TempDir, Host) {
    let db = TestDb::start();
    let dir = handlers_dir(
        &manifest(max_concurrency),
        &[("probe.wasm", test_handler("probe-v1"))],
    );
    let host = Host::serve(
        &db,
        dir.path(),
        &["--pool-size", "16", "--admin-token", ADMIN_TOKEN],
    )
    .await;
    (db, dir, host)
}

/// Statements sleeping in the database now: the probe's requests in wasm.
async fn sleeping(db: &tokio_postgres::Client) -> i64 {
    db.query_one(
        "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep%' AND pid <> pg_backend_pid()",
        &[],
    )
    .await
    .unwrap()
    .get(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn at_most_max_concurrency_requests_run_and_the_rest_wait_their_turn() {
    let (db, _dir, host) = serve(2).await;
    let watcher = db.client().await;
    let started = Instant::now();
    let requests: Vec<_> = (0..6)
        .map(|_| {
            let url = host.url("/probe/sleep?ms=300");
            tokio::spawn(async move { client().get(url).send().await.unwrap().status() })
        })
        .collect();
    let mut most = 0;
    while requests.iter().any(|r| !r.is_finished()) {
        most = most.max(sleeping(&watcher).await);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for request in requests {
        assert_eq!(request.await.unwrap(), StatusCode::OK);
    }
    assert_eq!(most, 2, "two at a time, and no more");
    let admin = support::admin::handlers_report(&host.url(""), ADMIN_TOKEN).await;
    assert_eq!(admin["handlers"][0]["max_concurrency"], 2, "{admin}");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "six 300 ms requests two at a time take three turns: {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_that_never_gets_its_turn_is_told_to_retry() {
    let (_db, _dir, host) = serve(1).await;
    let long = {
        let url = host.url("/probe/sleep?ms=2500");
        tokio::spawn(async move { client().get(url).send().await.unwrap().status() })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let waited = Instant::now();
    let response = client().get(host.url("/probe/echo")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        waited.elapsed() >= Duration::from_millis(900),
        "it waited its turn first"
    );
    assert_eq!(response.headers()["retry-after"], "1");
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    assert_eq!(
        long.await.unwrap(),
        StatusCode::OK,
        "the running one finishes"
    );

    let samples = metrics::scrape(&host).await;
    assert_eq!(
        metrics::value(
            &samples,
            "geofn_concurrency_rejected_total",
            &[("handler", "probe")]
        ),
        1.0
    );
    assert_eq!(
        client()
            .get(host.url("/probe/echo"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK,
        "its turn comes once the long one is done"
    );
}
