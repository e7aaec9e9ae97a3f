//! Three replicas behind the shipped nginx and HAProxy configurations:
//! a killed replica, a rolling restart and a fleet-wide handler swap, under
//! load, cost no failed request and lose no acknowledged write.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::load::{Load, assert_no_acknowledged_write_lost};
use support::topology::{Kind, Proxy, Replicas};
use support::{PROBE_ENTRY, TestDb, shipped_handlers, test_handler, write_shipped_plus};

/// One fleet at a time: each test runs a PostGIS, three replicas, a proxy
/// and a load; six of them at once on two cores made the swap test time
/// the machine's contention (2 s) rather than the fleet (0.1-0.2 s alone).
static ONE_FLEET: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn kill_one_replica(kind: Kind) {
    let _fleet = ONE_FLEET.lock().await;
    let db = TestDb::start();
    let mut replicas = Replicas::start(&db, &shipped_handlers(), &["--pool-size", "4"]).await;
    let proxy = Proxy::start(kind, &replicas).await;
    let load = Load::start(&proxy.base, "/points?limit=10", 4, 2);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    replicas.kill(1).await;
    tokio::time::sleep(Duration::from_millis(3000)).await;
    let tally = load.finish().await;
    eprintln!(
        "{kind:?}, kill -9 of one replica: {} GETs ({} failed), {} POSTs acknowledged, {} failed in flight {:?}",
        tally.gets,
        tally.get_failures.len(),
        tally.created.len(),
        tally.post_failures.len(),
        tally.post_failures
    );
    assert!(
        tally.get_failures.is_empty(),
        "GETs failed: {:?}",
        tally.get_failures
    );
    assert!(tally.created.len() > 20, "the load barely ran");
    assert_no_acknowledged_write_lost(&db, &tally).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn nginx_a_killed_replica_fails_no_get_and_loses_no_write() {
    kill_one_replica(Kind::Nginx).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn haproxy_a_killed_replica_fails_no_get_and_loses_no_write() {
    kill_one_replica(Kind::Haproxy).await;
}

async fn rolling_restart(kind: Kind) {
    let _fleet = ONE_FLEET.lock().await;
    let db = TestDb::start();
    // Not ready for longer than HAProxy's checks need to notice (fall 2 x 1 s).
    let mut replicas = Replicas::start(
        &db,
        &shipped_handlers(),
        &["--pool-size", "4", "--shutdown-delay-ms", "2500"],
    )
    .await;
    let proxy = Proxy::start(kind, &replicas).await;
    let load = Load::start(&proxy.base, "/points?limit=10", 3, 2);
    for i in 0..replicas.ports.len() {
        replicas.restart(&db, i).await;
        // Back in the proxy's rotation before the next goes: HAProxy's
        // checks (rise 2 x inter 1 s), nginx's fail_timeout (2 s).
        tokio::time::sleep(Duration::from_millis(2500)).await;
    }
    let tally = load.finish().await;
    tally.assert_no_failure(&format!("{kind:?}, rolling restart"), &proxy.log_tail(20));
    assert_no_acknowledged_write_lost(&db, &tally).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn nginx_a_rolling_restart_fails_no_request() {
    rolling_restart(Kind::Nginx).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn haproxy_a_rolling_restart_fails_no_request() {
    rolling_restart(Kind::Haproxy).await;
}

/// Writes one version of the handlers the way the kubelet updates a
/// ConfigMap volume: a new timestamped folder, then an atomic `..data` swap.
fn configmap_version(dir: &Path, stamp: &str, probe: &str) {
    let versioned = dir.join(stamp);
    std::fs::create_dir(&versioned).unwrap();
    write_shipped_plus(
        &versioned,
        PROBE_ENTRY,
        &[("probe.wasm", test_handler(probe))],
    );
    let tmp = dir.join("..data_tmp");
    std::os::unix::fs::symlink(stamp, &tmp).unwrap();
    std::fs::rename(&tmp, dir.join("..data")).unwrap();
}

async fn fleet_swap(kind: Kind) {
    let _fleet = ONE_FLEET.lock().await;
    let db = TestDb::start();
    let dir = tempfile::tempdir().unwrap();
    configmap_version(dir.path(), "..v1", "probe-v1");
    let files = std::fs::read_dir(dir.path().join("..data")).unwrap();
    for file in files {
        let file = file.unwrap().file_name();
        let file = file.to_string_lossy();
        std::os::unix::fs::symlink(format!("..data/{file}"), dir.path().join(&*file)).unwrap();
    }
    let replicas = Replicas::start(&db, dir.path(), &["--pool-size", "4"]).await;
    let proxy = Proxy::start(kind, &replicas).await;
    let load = Load::start(&proxy.base, "/probe/version", 3, 1);
    tokio::time::sleep(Duration::from_millis(500)).await;

    configmap_version(dir.path(), "..v2", "probe-v2");
    let written = Instant::now();
    let mut pending: Vec<String> = replicas.urls();
    while !pending.is_empty() {
        let mut still = Vec::new();
        for base in pending {
            let body: Value = support::get_json(format!("{base}/probe/version")).await;
            if body["version"] != "v2" {
                still.push(base);
            }
        }
        pending = still;
        assert!(
            written.elapsed() < Duration::from_secs(10),
            "replicas never swapped: {pending:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let all_swapped = written.elapsed();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let tally = load.finish().await;
    eprintln!(
        "{kind:?}, ConfigMap swap: all {} replicas on v2 after {all_swapped:?}",
        replicas.urls().len()
    );
    assert!(all_swapped < Duration::from_secs(2), "took {all_swapped:?}");
    assert!(tally.get_failures.is_empty(), "{:?}", tally.get_failures);
    assert!(tally.post_failures.is_empty(), "{:?}", tally.post_failures);
    // Through the proxy, only v2 from now on.
    for _ in 0..30 {
        let body: Value = support::get_json(proxy.url("/probe/version")).await;
        assert_eq!(body["version"], "v2");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn nginx_a_configmap_swap_reaches_every_replica_within_2s() {
    fleet_swap(Kind::Nginx).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn haproxy_a_configmap_swap_reaches_every_replica_within_2s() {
    fleet_swap(Kind::Haproxy).await;
}

/// Through the shipped nginx, heads meet geofn's bounds, not nginx's
/// defaults: a 12 KiB request line (an OGC API filter with a polygon; nginx
/// alone takes 8 KiB) is served, and header fields past geofn's 32 KiB get
/// geofn's problem document rather than nginx's page.
#[tokio::test(flavor = "multi_thread")]
async fn nginx_passes_heads_up_to_geofns_own_bounds() {
    let _fleet = ONE_FLEET.lock().await;
    let db = TestDb::start();
    let replicas = Replicas::start(&db, &shipped_handlers(), &[]).await;
    let proxy = Proxy::start(Kind::Nginx, &replicas).await;
    let http = support::client();

    let filter = support::circle_filter(480);
    let answer = http
        .get(proxy.url("/collections/points/items"))
        .query(&[("filter", filter.as_str())])
        .send()
        .await
        .unwrap();
    let line = answer.url().as_str().len();
    assert!((9 << 10..16 << 10).contains(&line), "a {line}-byte URL");
    assert_eq!(
        answer.status(),
        reqwest::StatusCode::OK,
        "a {line}-byte URL"
    );

    let mut request = http.get(proxy.url("/points"));
    for i in 0..3 {
        request = request.header(format!("x-pad-{i}"), "v".repeat(12_000));
    }
    let answer = request.send().await.unwrap();
    assert_eq!(
        answer.status(),
        reqwest::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
    );
    assert_eq!(
        answer.headers()["content-type"],
        "application/problem+json",
        "{}",
        proxy.log_tail(5)
    );
}
