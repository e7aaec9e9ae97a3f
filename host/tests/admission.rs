//! The queue in front of admission: a burst beyond `--max-in-flight` waits
//! for a slot and is answered, instead of failing; a request that could not
//! be answered in time anyway (the measured service time already passes
//! `--queue-wait-ms`) is refused at once; and `--queue-wait-ms 0` is the
//! old fail-fast bound.

mod support;

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use support::{Host, PROBE_ENTRY, TestDb, client, handlers_dir, metrics, test_handler};

async fn serve(db: &TestDb, args: &[&str]) -> (tempfile::TempDir, Host) {
    let dir = handlers_dir(PROBE_ENTRY, &[("probe.wasm", test_handler("probe-v1"))]);
    let host = Host::serve(db, dir.path(), args).await;
    (dir, host)
}

/// Sends `n` requests to `path` at once; their statuses and how long each took.
async fn burst(host: &Host, path: &str, n: usize) -> Vec<(StatusCode, Duration)> {
    let requests: Vec<_> = (0..n)
        .map(|_| {
            let url = host.url(path);
            tokio::spawn(async move {
                let started = Instant::now();
                let status = client().get(url).send().await.unwrap().status();
                (status, started.elapsed())
            })
        })
        .collect();
    let mut answers = Vec::with_capacity(n);
    for request in requests {
        answers.push(request.await.unwrap());
    }
    answers
}

#[tokio::test(flavor = "multi_thread")]
async fn a_burst_beyond_the_bound_waits_for_slots_and_is_answered() {
    let db = TestDb::start();
    let (_dir, host) = serve(&db, &["--max-in-flight", "2", "--queue-wait-ms", "2000"]).await;
    // Six 150 ms requests, two slots: three turns, every one answered.
    let answers = burst(&host, "/probe/sleep?ms=150", 6).await;
    assert!(
        answers.iter().all(|(status, _)| *status == StatusCode::OK),
        "{answers:?}"
    );
    let slowest = answers.iter().map(|(_, took)| *took).max().unwrap();
    assert!(
        slowest >= Duration::from_millis(400),
        "the last ones waited their turn: {answers:?}"
    );
    let samples = metrics::scrape(&host).await;
    assert_eq!(
        metrics::value(&samples, "geofn_admission_rejected_total", &[]),
        0.0
    );
    assert!(
        metrics::value(&samples, "geofn_admission_wait_seconds_count", &[]) >= 3.0,
        "the waits are counted"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_queue_the_same_burst_is_refused_at_once() {
    let db = TestDb::start();
    let (_dir, host) = serve(&db, &["--max-in-flight", "2", "--queue-wait-ms", "0"]).await;
    let answers = burst(&host, "/probe/sleep?ms=300", 6).await;
    let refused: Vec<_> = answers
        .iter()
        .filter(|(status, _)| *status == StatusCode::SERVICE_UNAVAILABLE)
        .collect();
    assert!(!refused.is_empty(), "{answers:?}");
    assert!(
        refused
            .iter()
            .all(|(_, took)| *took < Duration::from_millis(250)),
        "refusals are fast: {answers:?}"
    );
    // Shedding is counted on /metrics, not an ERROR line a refusal: under
    // overload those were thousands a second.
    assert!(
        !host.logs().contains("response failed"),
        "a shed request was logged as a failure: {}",
        host.logs()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_that_could_not_finish_in_time_is_not_kept_waiting() {
    let db = TestDb::start();
    let (_dir, host) = serve(&db, &["--max-in-flight", "1", "--queue-wait-ms", "300"]).await;
    // Teach the host that a request here holds its slot ~400 ms: more
    // than the whole wait allowed.
    for _ in 0..3 {
        let response = client()
            .get(host.url("/probe/sleep?ms=400"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    let running = {
        let url = host.url("/probe/sleep?ms=1000");
        tokio::spawn(async move { client().get(url).send().await.unwrap().status() })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    let response = client().get(host.url("/probe/echo")).send().await.unwrap();
    let took = started.elapsed();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "1");
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    assert!(
        took < Duration::from_millis(150),
        "refused at once, not after waiting: {took:?}"
    );
    let problem: serde_json::Value = response.json().await.unwrap();
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("could not start in time"),
        "{problem}"
    );
    assert_eq!(running.await.unwrap(), StatusCode::OK);
}
