//! Fleet-wide deploys through PostgreSQL: push once, every replica swaps.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;
use support::topology::{Kind, Proxy, Replicas};
use support::{
    Host, PROBE_ENTRY, TestDb, client, handlers_dir, status_for_announced_body, test_handler,
};

const TOKEN: &str = "fleet-test-token";
/// The bound: every replica on the new version within a second.
const CONVERGE: Duration = Duration::from_secs(1);

fn geofn(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_geofn"))
        .args(args)
        .env("GEOFN_ADMIN_TOKEN", TOKEN)
        .output()
        .unwrap()
}

fn push(url: &str, version: &str) -> Value {
    let component = test_handler(&format!("probe-{version}"));
    let output = geofn(&[
        "push",
        component.to_str().unwrap(),
        "--name",
        "probe",
        "--url",
        url,
    ]);
    assert!(
        output.status.success(),
        "push failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Waits until every replica answers `wanted`; how long that took.
async fn converge(urls: &[String], wanted: &str, limit: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let mut all = true;
        for url in urls {
            if support::probe_version(url).await.as_deref() != Some(wanted) {
                all = false;
            }
        }
        if all {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < limit,
            "replicas did not all serve {wanted} within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn probe_dir() -> tempfile::TempDir {
    handlers_dir(PROBE_ENTRY, &[("probe.wasm", test_handler("probe-v1"))])
}

#[tokio::test(flavor = "multi_thread")]
async fn a_push_reaches_every_replica_within_a_second_and_rollback_too() {
    let db = TestDb::start();
    let dir = probe_dir();
    let replicas = Replicas::start(
        &db,
        dir.path(),
        &["--admin-token", TOKEN, "--pool-size", "4"],
    )
    .await;
    let proxy = Proxy::start(Kind::Haproxy, &replicas).await;
    let urls = replicas.urls();

    let stop = Arc::new(AtomicBool::new(false));
    let mut load = Vec::new();
    for _ in 0..3 {
        let (url, stop) = (proxy.url("/probe/version"), stop.clone());
        load.push(tokio::spawn(async move {
            let mut failures = Vec::new();
            let mut seen = 0;
            while !stop.load(Ordering::Relaxed) {
                seen += 1;
                match client().get(&url).send().await {
                    Ok(r) if r.status().is_success() => {}
                    Ok(r) => failures.push(r.status().to_string()),
                    Err(e) => failures.push(e.to_string()),
                }
            }
            (seen, failures)
        }));
    }

    let pushed = push(&proxy.base, "v2");
    assert_eq!(pushed["version"], 1);
    assert_eq!(pushed["routes"], serde_json::json!(["GET /probe/{action}"]));
    let took = converge(&urls, "v2", CONVERGE).await;
    eprintln!("push: all {} replicas on v2 after {took:?}", urls.len());

    // Each replica says where its version comes from.
    for url in &urls {
        let report = support::admin::handlers_report(url, TOKEN).await;
        assert_eq!(report["handlers"][0]["origin"], "db:probe@1", "{report}");
        assert_eq!(report["stored"][0]["active"], true, "{report}");
        let metrics = client()
            .get(format!("{url}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(metrics.contains(&format!(
            "sha256=\"{}\"",
            pushed["sha256"].as_str().unwrap()
        )));
    }

    // Push v1 again (version 2), then roll back to the version before it (v2).
    push(&proxy.base, "v1");
    let took = converge(&urls, "v1", CONVERGE).await;
    eprintln!("second push: all replicas on v1 after {took:?}");
    let output = geofn(&["rollback", "--name", "probe", "--url", &proxy.base]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let rolled: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(rolled["version"], 1);
    let took = converge(&urls, "v2", CONVERGE).await;
    eprintln!("rollback: all replicas back after {took:?}");

    stop.store(true, Ordering::Relaxed);
    let mut total = 0;
    for task in load {
        let (seen, failures) = task.await.unwrap();
        total += seen;
        assert!(
            failures.is_empty(),
            "requests failed during deploys: {failures:?}"
        );
    }
    assert!(total > 100, "the load barely ran: {total}");

    let listed = geofn(&["handlers", "--url", &urls[0]]);
    assert!(listed.status.success());
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed["stored"].as_array().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn late_and_cut_off_replicas_converge() {
    let db = TestDb::start();
    let dir = probe_dir();
    let replicas = Replicas::start(&db, dir.path(), &["--admin-token", TOKEN]).await;
    push(&replicas.urls()[0], "v2");
    // Setting the scene: the one-second bound is the test above's to keep.
    converge(&replicas.urls(), "v2", Duration::from_secs(10)).await;

    // A replica started after the push serves the pushed version at once.
    let late = Host::serve(&db, dir.path(), &["--admin-token", TOKEN]).await;
    assert_eq!(
        support::probe_version(&late.base).await.as_deref(),
        Some("v2")
    );

    // Cut every replica's LISTEN connection over and over while pushing:
    // the notification finds no listener; reconnecting catches up.
    let cutter = {
        let sql = db.client().await;
        tokio::spawn(async move {
            let started = Instant::now();
            while started.elapsed() < Duration::from_millis(1500) {
                let _ = sql
                    .execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                         WHERE application_name = 'geofn-listen'",
                        &[],
                    )
                    .await;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    push(&replicas.urls()[1], "v1");
    cutter.await.unwrap();
    let mut urls = replicas.urls();
    urls.push(late.base.clone());
    let took = converge(&urls, "v1", Duration::from_secs(10)).await;
    eprintln!("cut off during the push: converged {took:?} after the cuts stopped");
    assert!(late.logs().contains("fleet listener lost its connection"));
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_pushes_store_nothing() {
    let db = TestDb::start();
    let dir = probe_dir();
    let host = Host::serve(&db, dir.path(), &["--admin-token", TOKEN]).await;
    let stored = || async {
        db.client()
            .await
            .query_one("SELECT count(*) FROM geofn_handler_versions", &[])
            .await
            .unwrap()
            .get::<_, i64>(0)
    };
    let v2 = std::fs::read(test_handler("probe-v2")).unwrap();
    let put = |token: Option<&str>, body: Vec<u8>| {
        let mut request = client().put(host.url("/admin/handlers/probe")).body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request
    };
    for (what, request, status) in [
        ("no token", put(None, v2.clone()), StatusCode::UNAUTHORIZED),
        (
            "wrong token",
            put(Some("guess"), v2.clone()),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "not wasm",
            put(Some(TOKEN), b"#!/bin/sh".to_vec()),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "wrong world",
            put(Some(TOKEN), wat::parse_str("(component)").unwrap()),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "route taken by another handler",
            client()
                .put(host.url("/admin/handlers/other?route=GET%20/probe/%7Baction%7D"))
                .bearer_auth(TOKEN)
                .body(v2.clone()),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "bad route",
            client()
                .put(host.url("/admin/handlers/probe?route=nonsense"))
                .bearer_auth(TOKEN)
                .body(v2.clone()),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), status, "{what}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json",
            "{what}"
        );
        assert_eq!(stored().await, 0, "{what} stored something");
    }
    // 50 MB, announced with Expect: 100-continue as curl does for large
    // bodies: the 413 comes before a byte of the body is sent.
    let bearer = format!("Bearer {TOKEN}");
    let (status, _) = status_for_announced_body(
        &host.base,
        "PUT",
        "/admin/handlers/probe",
        &[
            ("Authorization", &bearer),
            ("Content-Type", "application/wasm"),
            ("Expect", "100-continue"),
        ],
        50 << 20,
    )
    .await;
    assert_eq!(status, 413);
    assert_eq!(stored().await, 0);

    let response = client()
        .post(host.url("/admin/handlers/probe/rollback"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        support::probe_version(&host.base).await.as_deref(),
        Some("v1")
    );

    let output = geofn(&[
        "push",
        "/nonexistent.wasm",
        "--name",
        "probe",
        "--url",
        &host.base,
    ]);
    assert_eq!(output.status.code(), Some(1));
    let output = geofn(&["handlers", "--url", "http://127.0.0.1:1"]);
    assert_eq!(output.status.code(), Some(2));
    let big = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(big.path(), vec![0u8; 50 << 20]).unwrap();
    let output = geofn(&[
        "push",
        big.path().to_str().unwrap(),
        "--name",
        "probe",
        "--url",
        &host.base,
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("at most"));
}
