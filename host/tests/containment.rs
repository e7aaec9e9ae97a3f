//! Containment: per-handler limits, sandboxing, admission control, session
//! hygiene, and a looping handler that must not starve others.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;
use support::metrics::{scrape, value};
use support::{Host, TestDb, client, shipped_plus, status_for_announced_body, test_handler};

/// The probe three times over, with different limits, plus the points API.
fn limited_handlers() -> tempfile::TempDir {
    let manifest = r#"[handlers.probe]
component = "probe.wasm"
routes = ["GET /probe/{action}"]
[handlers.probe.limits]
deadline_ms = 300
memory_mib = 16

[handlers.few-instances]
component = "probe.wasm"
routes = ["GET /few-instances/{action}"]
[handlers.few-instances.limits]
instances = 1

[handlers.small-tables]
component = "probe.wasm"
routes = ["GET /small-tables/{action}"]
[handlers.small-tables.limits]
table_elements = 4

[handlers.slow]
component = "probe.wasm"
routes = ["GET /slow/{action}"]
"#;
    shipped_plus(manifest, &[("probe.wasm", test_handler("probe-v1"))])
}

async fn get(host: &Host, path: &str) -> (StatusCode, Value) {
    let response = client().get(host.url(path)).send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn assert_still_serving(host: &Host) {
    assert_eq!(get(host, "/probe/echo").await.0, StatusCode::OK);
    assert_eq!(get(host, "/points").await.0, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn each_limit_ends_only_its_own_request() {
    let db = TestDb::start();
    let dir = limited_handlers();
    let host = Host::serve(&db, dir.path(), &[]).await;

    let started = Instant::now();
    let (status, problem) = get(&host, "/probe/spin").await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT, "{problem}");
    assert_eq!(problem["type"], "urn:geofn:problem:handler-timeout");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_still_serving(&host).await;

    let (status, problem) = get(&host, "/probe/hog").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{problem}");
    assert_eq!(problem["type"], "urn:geofn:problem:handler-failed");
    assert_still_serving(&host).await;

    for capped in ["/few-instances/echo", "/small-tables/echo"] {
        let (status, problem) = get(&host, capped).await;
        assert_eq!(
            status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "{capped}: {problem}"
        );
        assert_still_serving(&host).await;
    }

    let (status, content_type) = status_for_announced_body(
        &host.base,
        "POST",
        "/point",
        &[("Content-Type", "application/json")],
        2 << 20,
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE.as_u16());
    assert_eq!(content_type, "application/problem+json");
    assert_still_serving(&host).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn handlers_get_no_files_environment_or_network() {
    let db = TestDb::start();
    let dir = limited_handlers();
    let host = Host::serve(&db, dir.path(), &[]).await;
    let port = db.cluster.port();
    let (status, seen) = get(&host, &format!("/probe/sandbox?port={port}")).await;
    assert_eq!(status, StatusCode::OK);
    for (what, value) in [
        ("file", &seen["file"]),
        ("dir", &seen["dir"]),
        ("socket", &seen["socket"]),
        ("lookup", &seen["lookup"]),
    ] {
        let text = value.as_str().unwrap();
        assert!(text.starts_with("Err("), "{what} was allowed: {text}");
    }
    assert_eq!(seen["env"], serde_json::json!([]), "environment leaked");
    assert!(
        seen["args"].as_array().unwrap().len() <= 1,
        "{}",
        seen["args"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn session_state_left_by_a_handler_is_gone_for_the_next() {
    let db = TestDb::start();
    let dir = limited_handlers();
    // One connection: every request reuses the one the dirty handler used.
    let host = Host::serve(&db, dir.path(), &["--pool-size", "1"]).await;
    let (status, body) = get(&host, "/probe/dirty").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for _ in 0..5 {
        let (status, session) = get(&host, "/probe/session").await;
        assert_eq!(status, StatusCode::OK, "{session}");
        assert_eq!(
            session["application_name"]["text"], "geofn:probe",
            "{session}"
        );
        assert_eq!(session["advisory_locks"]["int"], 0, "{session}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn overload_gets_fast_503s_not_timeouts_and_memory_stays_bounded() {
    let db = TestDb::start();
    let dir = limited_handlers();
    let host = Arc::new(Host::serve(&db, dir.path(), &["--max-in-flight", "8"]).await);
    let baseline = host.rss_bytes();
    let mut clients = Vec::new();
    for _ in 0..400 {
        let host = host.clone();
        clients.push(tokio::spawn(async move {
            let http = reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap();
            let mut outcomes = Vec::new();
            for _ in 0..3 {
                let started = Instant::now();
                let response = http.get(host.url("/slow/sleep?ms=200")).send().await;
                let response = response.expect("a request failed or timed out");
                outcomes.push((
                    response.status(),
                    response.headers().contains_key("retry-after"),
                    started.elapsed(),
                ));
            }
            outcomes
        }));
    }
    let peak_watch = {
        let host = host.clone();
        tokio::spawn(async move {
            let mut peak = 0;
            for _ in 0..40 {
                peak = peak.max(host.rss_bytes());
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            peak
        })
    };
    let (mut ok, mut rejected) = (0, 0);
    for client in clients {
        for (status, retry_after, took) in client.await.unwrap() {
            match status {
                StatusCode::OK => ok += 1,
                StatusCode::SERVICE_UNAVAILABLE => {
                    assert!(retry_after, "503 without Retry-After");
                    assert!(took < Duration::from_secs(2), "a rejection took {took:?}");
                    rejected += 1;
                }
                other => panic!("unexpected {other}"),
            }
        }
    }
    let peak = peak_watch.await.unwrap();
    eprintln!("overload: {ok} ok, {rejected} rejected; RSS {baseline} -> peak {peak}");
    assert!(ok >= 8 && rejected > 0, "{ok} ok, {rejected} rejected");
    assert!(
        peak < baseline + (256 << 20),
        "RSS grew from {baseline} to {peak}"
    );
    // And it recovers at once.
    assert_eq!(get(&host, "/probe/echo").await.0, StatusCode::OK);
}

/// A hostile handler asks for a gigabyte of rows: the host stops reading
/// once they pass the handler's memory (64 MiB by default), answers the
/// handler `query-failed` (SQLSTATE 54000), cancels what the server is
/// still sending, and its own memory never holds the rest.
#[tokio::test(flavor = "multi_thread")]
async fn rows_that_cannot_fit_the_handlers_memory_are_refused_unread() {
    let db = TestDb::start();
    let dir = limited_handlers();
    let host = Host::serve(&db, dir.path(), &[]).await;
    let huge = "SELECT repeat('x', 1000000) AS filler FROM generate_series(1, 1000)";
    let before = host.peak_rss_bytes();
    for variant in ["", "&json"] {
        let (status, answer) = get(&host, &format!("/slow/select?sql={huge}{variant}")).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{answer}");
        let error = answer["error"].as_str().unwrap_or_default();
        assert!(
            error.contains("54000") && error.contains("64 MiB"),
            "{variant}: {answer}"
        );
    }
    let grew = host.peak_rss_bytes().saturating_sub(before);
    assert!(
        grew < 256 << 20,
        "the host's peak memory grew by {} MiB for rows it refused",
        grew >> 20
    );

    // The abandoned statements were cancelled: nothing of them runs on, and
    // the handler's next statement is answered.
    let watcher = db.client().await;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let running: i64 = watcher
            .query_one(
                "SELECT count(*) FROM pg_stat_activity \
                 WHERE query LIKE 'SELECT repeat%' AND state = 'active'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if running == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "{running} still running");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, answer) = get(&host, "/slow/select?sql=SELECT 1").await;
    assert_eq!((status, answer["rows"].as_u64()), (StatusCode::OK, Some(1)));
    let samples = support::metrics::scrape(&host).await;
    let refused = support::metrics::value(
        &samples,
        "geofn_db_results_too_large_total",
        &[("handler", "slow")],
    );
    assert_eq!(refused, 2.0);
}

/// The CPU throttle charges computation, not waits: a handler that spends
/// its time in a hundred short queries (each spanning an epoch tick) is
/// never throttled, while a loop is, once per request.
#[tokio::test(flavor = "multi_thread")]
async fn the_throttle_charges_computation_not_database_waits() {
    let db = TestDb::start();
    let dir = limited_handlers();
    let host = Host::serve(&db, dir.path(), &[]).await;
    let started = Instant::now();
    let (status, body) = get(&host, "/slow/sleep?ms=2&times=100").await;
    let took = started.elapsed();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["slept_ms"], 200.0);
    let (status, _) = get(&host, "/probe/spin").await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT);

    let samples = scrape(&host).await;
    let throttled = |handler| {
        value(
            &samples,
            "geofn_handler_throttled_total",
            &[("handler", handler)],
        )
    };
    assert_eq!(
        throttled("slow"),
        0.0,
        "waiting on queries was charged as computation"
    );
    assert_eq!(throttled("probe"), 1.0);
    // Throttled, its 80-odd ticks past the grace would have cost 19 ms each.
    assert!(took < Duration::from_secs(1), "{took:?}");
}
