//! Opt-in instance reuse (`reuse_requests` in a handler's limits): state
//! survives between requests only where it is on, an instance serves a
//! bounded number of requests, a trap, a deadline, idling or a new
//! version of its handler retires it, and a database transaction never
//! outlives its request, whatever the instance keeps.

mod support;

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use support::{Host, TestDb, client, handlers_dir, publish, test_handler};

/// The probe twice: `/fresh/...` as shipped (a fresh instance per
/// request), `/warm/...` reusing instances with `reuse` limits.
fn manifest(reuse: &str) -> String {
    format!(
        "[handlers.fresh]\ncomponent = \"probe.wasm\"\nroutes = [\"GET /fresh/{{action}}\"]\n\n\
         [handlers.warm]\ncomponent = \"probe.wasm\"\nroutes = [\"GET /warm/{{action}}\"]\n\
         [handlers.warm.limits]\ndeadline_ms = 500\n{reuse}\n"
    )
}

async fn serve(reuse: &str) -> (TestDb, tempfile::TempDir, Host) {
    let db = TestDb::start();
    let dir = handlers_dir(
        &manifest(reuse),
        &[("probe.wasm", test_handler("probe-v1"))],
    );
    let host = Host::serve(&db, dir.path(), &[]).await;
    (db, dir, host)
}

/// `(requests this instance served, its build)` from `/PREFIX/counter`.
async fn counter(host: &Host, prefix: &str) -> (u64, String) {
    let response = client()
        .get(host.url(&format!("/{prefix}/counter")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    (
        body["served"].as_u64().unwrap(),
        body["version"].as_str().unwrap().to_owned(),
    )
}

async fn status(host: &Host, path: &str) -> StatusCode {
    client().get(host.url(path)).send().await.unwrap().status()
}

#[tokio::test(flavor = "multi_thread")]
async fn state_survives_between_requests_only_where_reuse_is_on() {
    let (_db, _dir, host) = serve("reuse_requests = [1000, 1000]").await;
    for _ in 0..5 {
        assert_eq!(counter(&host, "fresh").await.0, 1);
    }
    for expected in 1..=5 {
        assert_eq!(counter(&host, "warm").await.0, expected);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_trap_a_deadline_or_a_failure_retires_the_instance() {
    let (_db, _dir, host) = serve("reuse_requests = [1000, 1000]").await;
    for (path, expected) in [
        ("/warm/trap", StatusCode::INTERNAL_SERVER_ERROR),
        ("/warm/spin", StatusCode::GATEWAY_TIMEOUT),
        // A 5xx the handler answers itself (its database call fails).
        (
            "/warm/exec?sql=SELECT%20no_such_function()",
            StatusCode::INTERNAL_SERVER_ERROR,
        ),
    ] {
        let (before, _) = counter(&host, "warm").await;
        assert_eq!(counter(&host, "warm").await.0, before + 1, "before {path}");
        assert_eq!(status(&host, path).await, expected, "{path}");
        assert_eq!(counter(&host, "warm").await.0, 1, "{path} retired it");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_instance_whose_memory_grew_past_half_its_limit_is_retired() {
    let (_db, _dir, host) = serve("reuse_requests = [1000, 1000]\nmemory_mib = 16").await;
    let (before, _) = counter(&host, "warm").await;
    assert_eq!(status(&host, "/warm/touch?mib=2").await, StatusCode::OK);
    assert_eq!(
        counter(&host, "warm").await.0,
        before + 1,
        "a few MiB of its 16 keep it"
    );
    assert_eq!(status(&host, "/warm/touch?mib=9").await, StatusCode::OK);
    assert_eq!(
        counter(&host, "warm").await.0,
        1,
        "grown past 8 MiB, the next request finds a fresh instance"
    );
}

async fn json(host: &Host, path: &str) -> Value {
    let response = client().get(host.url(path)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    response.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_transaction_kept_by_a_reused_instance_dies_with_its_request() {
    let (db, _dir, host) = serve("reuse_requests = [1000, 1000]").await;
    let (first, _) = counter(&host, "warm").await;
    let left = json(&host, "/warm/tx?do=leave-open&note=ghost").await;
    assert_eq!(left["inserted"], true, "{left}");
    // Rolled back when the request ended: not stored, and no connection
    // left idle in a transaction, holding locks.
    assert!(
        !json(&host, "/warm/notes")
            .await
            .to_string()
            .contains("ghost")
    );
    let client = db.client().await;
    let mut idle_in_tx = i64::MAX;
    for _ in 0..50 {
        idle_in_tx = client
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE state LIKE 'idle in transaction%'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if idle_in_tx == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        idle_in_tx, 0,
        "a connection stayed in the handler's transaction"
    );
    // The same instance, a later request: the transaction it kept is dead.
    let stale = json(&host, "/warm/tx?do=stale&note=stale").await;
    assert_eq!(stale["had"], true, "{stale}: not the same instance");
    assert_eq!(stale["execute_refused"], true, "{stale}");
    assert_eq!(stale["commit_refused"], true, "{stale}");
    let notes = json(&host, "/warm/notes").await.to_string();
    assert!(
        !notes.contains("ghost") && !notes.contains("stale"),
        "{notes}"
    );
    assert!(
        counter(&host, "warm").await.0 > first,
        "the instance was not reused"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_instance_serves_a_random_bounded_number_of_requests() {
    let (_db, _dir, host) = serve("reuse_requests = [3, 6]").await;
    let mut lifetimes = Vec::new();
    let mut last = 0;
    for _ in 0..120 {
        let (served, _) = counter(&host, "warm").await;
        if served == 1 && last > 0 {
            lifetimes.push(last);
        }
        last = served;
    }
    assert!(lifetimes.len() >= 15, "{lifetimes:?}");
    assert!(
        lifetimes.iter().all(|n| (3..=6).contains(n)),
        "each instance served 3 to 6 requests: {lifetimes:?}"
    );
    assert!(
        lifetimes.iter().any(|&n| n != lifetimes[0]),
        "drawn at random: {lifetimes:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_idle_instance_is_retired() {
    let (_db, _dir, host) = serve("reuse_requests = [1000, 1000]\nreuse_idle_ms = 300").await;
    assert_eq!(counter(&host, "warm").await.0, 1);
    assert_eq!(counter(&host, "warm").await.0, 2);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(counter(&host, "warm").await.0, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn after_a_swap_no_request_reaches_an_old_instance() {
    let (_db, dir, host) = serve("reuse_requests = [1000, 1000]").await;
    for expected in 1..=3 {
        assert_eq!(counter(&host, "warm").await, (expected, "v1".into()));
    }
    // Several instances parked: concurrent requests each got one.
    let concurrent: Vec<_> = (0..8)
        .map(|_| {
            let url = host.url("/warm/sleep?ms=200");
            tokio::spawn(async move { client().get(url).send().await.unwrap().status() })
        })
        .collect();
    for request in concurrent {
        assert_eq!(request.await.unwrap(), StatusCode::OK);
    }

    let v2 = std::fs::read(test_handler("probe-v2")).unwrap();
    publish(dir.path(), "probe.wasm", &v2);
    let mut waited = Duration::ZERO;
    let first = loop {
        let (served, version) = counter(&host, "warm").await;
        if version == "v2" {
            break served;
        }
        assert!(waited < Duration::from_secs(10), "v2 never served");
        tokio::time::sleep(Duration::from_millis(20)).await;
        waited += Duration::from_millis(20);
    };
    assert_eq!(first, 1, "the first v2 request had a new instance");
    for expected in 2..=20 {
        assert_eq!(counter(&host, "warm").await, (expected, "v2".into()));
    }
}
