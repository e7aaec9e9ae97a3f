//! /metrics after known traffic, and request ids through to handler logs.

mod support;

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use support::metrics::{scrape, value};
use support::{
    Host, PROBE_ENTRY, TestDb, client, handlers_dir, points_and_probe, publish, test_handler,
};

#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_known_traffic_by_route_handler_and_status() {
    let db = TestDb::start();
    let dir = points_and_probe();
    let host = Host::serve(&db, dir.path(), &[]).await;
    let http = client();
    for i in 0..3 {
        let r = http
            .post(host.url("/point"))
            .json(&json!({"name": format!("p{i}"), "longitude": 1, "latitude": 2}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    for _ in 0..2 {
        assert_eq!(
            http.get(host.url("/points")).send().await.unwrap().status(),
            StatusCode::OK
        );
    }
    assert_eq!(
        http.get(host.url("/points/999999"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        http.get(host.url("/points/123456"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
    let bad = http
        .post(host.url("/point"))
        .json(&json!({"name": ""}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        http.get(host.url("/nowhere/at/all"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        http.get(host.url("/livez")).send().await.unwrap().status(),
        StatusCode::OK
    );

    let samples = scrape(&host).await;
    let requests = |route: &str, handler: &str, status: &str| {
        value(
            &samples,
            "geofn_http_requests_total",
            &[("route", route), ("handler", handler), ("status", status)],
        )
    };
    assert_eq!(requests("/point", "points", "2xx"), 3.0);
    assert_eq!(requests("/point", "points", "4xx"), 1.0);
    assert_eq!(requests("/points", "points", "2xx"), 2.0);
    // Two different ids, one route label: no raw paths in labels.
    assert_eq!(requests("/points/{id}", "points", "4xx"), 2.0);
    assert_eq!(requests("unmatched", "host", "4xx"), 1.0);
    assert_eq!(requests("/livez", "host", "2xx"), 1.0);
    assert!(
        !samples
            .iter()
            .any(|s| s.labels.values().any(|v| v.contains("999999")))
    );
    assert_eq!(
        value(
            &samples,
            "geofn_http_request_duration_seconds_count",
            &[("route", "/point"), ("status", "2xx")]
        ),
        3.0
    );
    // 3 + 1 + 2 + 2 requests ran the points component.
    assert_eq!(
        value(
            &samples,
            "geofn_handler_instantiate_seconds_count",
            &[("handler", "points")]
        ),
        8.0
    );
    // Inserts and listings and lookups each made one query; the bad one none.
    assert_eq!(
        value(
            &samples,
            "geofn_db_query_duration_seconds_count",
            &[("handler", "points")]
        ),
        7.0
    );
    assert!(value(&samples, "geofn_db_pool_wait_seconds_count", &[]) >= 7.0);
    assert_eq!(value(&samples, "geofn_db_pool_max_connections", &[]), 16.0);
    assert!(value(&samples, "geofn_db_pool_connections", &[("state", "open")]) >= 1.0);
    assert_eq!(
        value(&samples, "geofn_requests_in_flight_limit", &[]),
        256.0
    );
    assert_eq!(
        value(&samples, "geofn_handler_info", &[("handler", "points")]),
        1.0
    );
    let info = samples
        .iter()
        .find(|s| s.name == "geofn_handler_info" && s.labels["handler"] == "points")
        .unwrap();
    assert_eq!(info.labels["sha256"].len(), 64);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fresh_dev_host_lists_every_counter_at_zero_with_help() {
    let data = tempfile::Builder::new()
        .prefix("geofn-dev-")
        .tempdir_in("/tmp")
        .unwrap();
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_geofn"));
    command
        .args(["dev", "--listen", "127.0.0.1:0", "--handlers"])
        .arg(support::shipped_handlers())
        .arg("--data-dir")
        .arg(data.path())
        .env_remove("DATABASE_URL")
        .env("GEOFN_CACHE_DIR", support::target_dir().join("test-cache"));
    let host = Host::spawn(command).await;
    let text = support::metrics::text(&host).await;
    let status = host.terminate().await;
    assert!(status.success(), "{status}");

    let samples = support::metrics::parse(&text);
    let counters: Vec<&str> = text
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.strip_suffix(" counter"))
        .collect();
    for family in &counters {
        assert!(
            text.contains(&format!("# HELP {family} ")),
            "{family} has no HELP line"
        );
        let series: Vec<_> = samples.iter().filter(|s| s.name == *family).collect();
        assert!(!series.is_empty(), "{family} has no series");
        assert!(
            series.iter().all(|s| s.value == 0.0),
            "{family} is not at 0"
        );
    }
    for family in text
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.split_whitespace().next())
    {
        assert!(
            text.contains(&format!("# HELP {family} ")),
            "{family} has no HELP line"
        );
    }
    for family in [
        "geofn_handler_swaps_applied_total",
        "geofn_handler_swaps_rejected_total",
        "geofn_admission_rejected_total",
        "geofn_db_share_exhausted_total",
        "geofn_db_cancellations_total",
        "geofn_db_statement_timeouts_total",
        "geofn_memory_budget_rejected_total",
        "geofn_handler_throttled_total",
        "geofn_fleet_notifications_ignored_total",
        "geofn_http_requests_total",
    ] {
        assert!(counters.contains(&family), "{family} missing:\n{text}");
    }
    let rejected = samples
        .iter()
        .filter(|s| s.name == "geofn_handler_swaps_rejected_total")
        .count();
    assert_eq!(rejected, geofn_handler_set::error::LoadError::REASONS.len());
    for handler in ["points", "features"] {
        assert_eq!(
            value(
                &samples,
                "geofn_db_cancellations_total",
                &[("handler", handler)]
            ),
            0.0
        );
        assert!(
            samples
                .iter()
                .any(|s| s.name == "geofn_memory_budget_rejected_total"
                    && s.labels.get("handler").map(String::as_str) == Some(handler)),
            "{handler}"
        );
    }
    assert!(samples.iter().any(|s| s.name == "geofn_http_requests_total"
        && s.labels.get("route").map(String::as_str) == Some("/points/{id}")));
}

#[tokio::test(flavor = "multi_thread")]
async fn swaps_and_admission_rejections_are_counted() {
    let db = TestDb::start();
    let dir = handlers_dir(PROBE_ENTRY, &[("probe.wasm", test_handler("probe-v1"))]);
    let host = Host::serve(&db, dir.path(), &["--max-in-flight", "1"]).await;
    publish(dir.path(), "probe.wasm", b"not wasm at all");
    assert!(
        host.wait_for_log("reload.reason=\"not-wasm\"", Duration::from_secs(10))
            .await
    );
    publish(
        dir.path(),
        "probe.wasm",
        &std::fs::read(test_handler("probe-v2")).unwrap(),
    );
    assert!(
        host.wait_for_log("handler set reloaded", Duration::from_secs(10))
            .await
    );

    let slow: Vec<_> = (0..6)
        .map(|_| {
            let url = host.url("/probe/sleep?ms=300");
            tokio::spawn(async move { client().get(url).send().await.unwrap().status() })
        })
        .collect();
    let mut rejected = 0;
    for request in slow {
        if request.await.unwrap() == StatusCode::SERVICE_UNAVAILABLE {
            rejected += 1;
        }
    }
    assert!(rejected >= 1, "nothing was rejected");

    let samples = scrape(&host).await;
    assert_eq!(
        value(
            &samples,
            "geofn_handler_swaps_rejected_total",
            &[("reason", "not-wasm")]
        ),
        1.0
    );
    assert_eq!(
        value(&samples, "geofn_handler_swaps_applied_total", &[]),
        1.0
    );
    // The applied swap's time, whole and by phase (the rejected one has none).
    assert_eq!(
        value(&samples, "geofn_handler_swap_seconds_count", &[]),
        1.0
    );
    for phase in ["settle", "snapshot", "compile", "database", "assemble"] {
        assert_eq!(
            value(
                &samples,
                "geofn_handler_swap_phase_seconds_count",
                &[("phase", phase)]
            ),
            1.0,
            "{phase}"
        );
    }
    assert!(value(&samples, "geofn_handler_swap_seconds_sum", &[]) > 0.0);
    assert_eq!(
        value(&samples, "geofn_admission_rejected_total", &[]),
        f64::from(rejected)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn request_ids_are_kept_or_minted_and_reach_handler_logs() {
    let db = TestDb::start();
    let dir = points_and_probe();
    let host = Host::serve(&db, dir.path(), &[]).await;
    let response = client()
        .get(host.url("/probe/log?message=guest-says-hi"))
        .header("x-request-id", "trace-me-42")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "trace-me-42");
    assert!(
        host.wait_for_log("guest-says-hi", Duration::from_secs(5))
            .await
    );
    let line = host
        .logs()
        .lines()
        .find(|l| l.contains("guest-says-hi"))
        .unwrap()
        .to_owned();
    assert!(line.contains("trace-me-42"), "{line}");
    assert!(line.contains("probe"), "{line}");
    assert!(
        !line.contains('\u{1b}'),
        "logs written to a pipe carry no colour codes: {line:?}"
    );

    let minted = client().get(host.url("/points")).send().await.unwrap();
    let first = minted.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let again = client().get(host.url("/points")).send().await.unwrap();
    assert_ne!(again.headers()["x-request-id"].to_str().unwrap(), first);
}
