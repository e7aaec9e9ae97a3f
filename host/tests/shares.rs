//! Shares under a flood: a handler at its share of the database pool
//! waits alone, and the memory budget holds under memory-hungry requests
//! and leaves room for the others.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use support::flood::{flood, tally};
use support::metrics::{scrape, value};
use support::{Host, TestDb, get_status_json, points_and_probe_with};

#[tokio::test(flavor = "multi_thread")]
async fn a_handler_at_its_pool_share_waits_alone() {
    let db = TestDb::start();
    let dir = points_and_probe_with(
        "[handlers.slow]\ncomponent = \"probe.wasm\"\nroutes = [\"GET /slow/{action}\"]\n\
         [handlers.slow.limits]\ndb_connections = 2\n",
    );
    let host = Arc::new(Host::serve(&db, dir.path(), &["--pool-wait-ms", "500"]).await);
    let sleepers = flood(&host, "/slow/sleep?ms=1500", 6);
    // Meanwhile, the neighbours do not notice.
    tokio::time::sleep(Duration::from_millis(100)).await;
    for path in ["/points?limit=1", "/probe/db-echo", "/status"] {
        let started = Instant::now();
        let (status, body) = get_status_json(&host.url(path)).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        assert!(started.elapsed() < Duration::from_millis(400), "{path}");
    }
    let (ok, refused) = tally(sleepers).await;
    assert_eq!((ok, refused), (2, 4));
    let samples = scrape(&host).await;
    assert_eq!(
        value(
            &samples,
            "geofn_db_share_exhausted_total",
            &[("handler", "slow")]
        ),
        4.0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_memory_budget_holds_under_a_flood_and_leaves_room_for_others() {
    let db = TestDb::start();
    let dir = points_and_probe_with(
        "[handlers.hungry]\ncomponent = \"probe.wasm\"\nroutes = [\"GET /hungry/{action}\"]\n\
         [handlers.hungry.limits]\nmemory_mib = 64\n",
    );
    let budget_mib = 1024;
    let host = Arc::new(
        Host::serve(
            &db,
            dir.path(),
            &["--memory-budget-mib", &budget_mib.to_string()],
        )
        .await,
    );
    // Warm up: compiled code, connections, allocator arenas.
    assert_eq!(
        get_status_json(&host.url("/hungry/touch?mib=1")).await.0,
        StatusCode::OK
    );
    assert_eq!(
        get_status_json(&host.url("/points?limit=1")).await.0,
        StatusCode::OK
    );
    let own = host.rss_bytes();

    let requests = flood(&host, "/hungry/touch?mib=56&hold_ms=300", 64);
    tokio::time::sleep(Duration::from_millis(50)).await;
    for _ in 0..5 {
        let (status, body) = get_status_json(&host.url("/points?limit=5")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (ok, refused) = tally(requests).await;
    let peak = host.peak_rss_bytes();
    eprintln!(
        "memory budget: {ok} served, {refused} refused; RSS {} MiB before, peak {} MiB",
        own >> 20,
        peak >> 20
    );
    assert!(ok >= 8 && refused >= 1, "{ok} ok, {refused} refused");
    // Each refusal counted, a line a second at most saying how many.
    let lines = host.logs().matches("memory budget full").count();
    assert!(
        (1..=2).contains(&lines) && refused > 2,
        "{lines} log lines for {refused} refusals"
    );
    assert!(
        peak < own + ((budget_mib as u64) << 20),
        "peak RSS {peak} above the budget plus the host's own {own}"
    );
    let samples = scrape(&host).await;
    assert_eq!(
        value(&samples, "geofn_memory_budget_bytes", &[]),
        (budget_mib << 20) as f64
    );
    assert_eq!(
        value(&samples, "geofn_memory_budget_reserved_bytes", &[]),
        0.0
    );
    assert!(
        value(
            &samples,
            "geofn_memory_budget_rejected_total",
            &[("handler", "hungry")]
        ) >= refused as f64
    );
}
