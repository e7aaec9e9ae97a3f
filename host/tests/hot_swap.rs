//! Hot swap: handler components replaced while the host serves.

mod support;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;
use support::{Host, PROBE_ENTRY, TestDb, client, handlers_dir, publish, test_handler};

/// Longest a swap may take to show in answers before a test gives up.
const SWAP_TIMEOUT: Duration = Duration::from_secs(10);
const TOKEN: &str = "test-admin-token";

fn probe_dir() -> tempfile::TempDir {
    handlers_dir(PROBE_ENTRY, &[("probe.wasm", test_handler("probe-v1"))])
}

fn probe_bytes(version: &str) -> Vec<u8> {
    std::fs::read(test_handler(&format!("probe-{version}"))).unwrap()
}

async fn version(host: &Host) -> (StatusCode, Option<String>) {
    let response = client()
        .get(host.url("/probe/version"))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    (status, body["version"].as_str().map(str::to_owned))
}

async fn wait_for_version(host: &Host, wanted: &str) -> Duration {
    let started = Instant::now();
    loop {
        if version(host).await.1.as_deref() == Some(wanted) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < SWAP_TIMEOUT,
            "{wanted} never answered:\n{}",
            host.logs()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn admin(host: &Host) -> Value {
    support::admin::handlers_report(&host.url(""), TOKEN).await
}

async fn serve(db: &TestDb, dir: &Path, extra: &[&str]) -> Host {
    let mut args = vec!["--admin-token", TOKEN];
    args.extend_from_slice(extra);
    Host::serve(db, dir, &args).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hundred_swaps_under_load_fail_no_request() {
    let db = TestDb::start();
    let dir = probe_dir();
    let host = Arc::new(serve(&db, dir.path(), &[]).await);
    let versions = [probe_bytes("v1"), probe_bytes("v2")];

    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for _ in 0..4 {
        let (host, stop) = (host.clone(), stop.clone());
        clients.push(tokio::spawn(async move {
            let mut answers = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                answers.push(version(&host).await);
            }
            answers
        }));
    }

    for swap in 0..100 {
        let (next, bytes) = if swap % 2 == 0 {
            ("v2", &versions[1])
        } else {
            ("v1", &versions[0])
        };
        publish(dir.path(), "probe.wasm", bytes);
        wait_for_version(&host, next).await;
    }
    stop.store(true, Ordering::Relaxed);

    let mut total = 0;
    for client in clients {
        for (status, version) in client.await.unwrap() {
            total += 1;
            assert_eq!(status, StatusCode::OK, "a request failed during the swaps");
            assert!(
                matches!(version.as_deref(), Some("v1" | "v2")),
                "unexpected answer {version:?}"
            );
        }
    }
    assert!(
        total > 200,
        "the load was too light to mean anything: {total} requests"
    );

    // The last swap put v1 back; only v1 answers from now on.
    for _ in 0..50 {
        assert_eq!(version(&host).await, (StatusCode::OK, Some("v1".into())));
    }
    let report = admin(&host).await;
    assert_eq!(report["reload"]["applied"], 100, "{report}");
    assert_eq!(
        report["reload"]["rejected"],
        serde_json::json!({}),
        "{report}"
    );
    // v1 and v2 were each compiled once at most; swaps back reused them.
    assert!(
        report["compile_cache"]["misses"].as_u64().unwrap() <= 2,
        "{report}"
    );
}

/// A broken change of one kind, and the reason label it must be rejected with.
struct Breakage {
    reason: &'static str,
    apply: Box<dyn Fn(&Path)>,
}

#[tokio::test(flavor = "multi_thread")]
async fn broken_changes_are_rejected_and_the_old_version_keeps_answering() {
    let db = TestDb::start();
    let dir = probe_dir();
    let host = serve(&db, dir.path(), &[]).await;
    let v2 = probe_bytes("v2");
    let half = v2[..v2.len() / 2].to_vec();
    let wrong_world = wat::parse_str(
        r#"(component (core module $m (func (export "run"))) (core instance (instantiate $m)))"#,
    )
    .unwrap();
    let unknown_import =
        wat::parse_str(r#"(component (import "evil:net/sockets" (instance)))"#).unwrap();
    let core_module = wat::parse_str("(module)").unwrap();

    let cases = [
        Breakage {
            reason: "not-wasm",
            apply: Box::new(|d| publish(d, "probe.wasm", b"#!/bin/sh\necho not wasm\n")),
        },
        Breakage {
            reason: "not-a-component",
            apply: Box::new(move |d| publish(d, "probe.wasm", &core_module)),
        },
        Breakage {
            reason: "invalid-component",
            apply: Box::new(move |d| publish(d, "probe.wasm", &half)),
        },
        Breakage {
            reason: "wrong-world",
            apply: Box::new(move |d| publish(d, "probe.wasm", &wrong_world)),
        },
        Breakage {
            reason: "wrong-world",
            apply: Box::new(move |d| publish(d, "probe.wasm", &unknown_import)),
        },
        Breakage {
            reason: "manifest-invalid",
            apply: Box::new(|d| publish(d, "geofn.toml", b"[handlers.probe\ncomponent = ")),
        },
        Breakage {
            reason: "component-missing",
            apply: Box::new(|d| {
                publish(
                    d,
                    "geofn.toml",
                    PROBE_ENTRY.replace("probe.wasm", "gone.wasm").as_bytes(),
                )
            }),
        },
    ];

    let good_manifest = PROBE_ENTRY.as_bytes();
    let v1 = probe_bytes("v1");
    for (i, case) in cases.iter().enumerate() {
        (case.apply)(dir.path());
        let needle = format!("reload.reason=\"{}\"", case.reason);
        let logged = host.wait_for_log(&needle, SWAP_TIMEOUT).await;
        assert!(
            logged,
            "case {i} ({}) not logged:\n{}",
            case.reason,
            host.logs()
        );
        assert_eq!(
            version(&host).await,
            (StatusCode::OK, Some("v1".into())),
            "case {i}"
        );
        let report = admin(&host).await;
        assert!(
            report["reload"]["rejected"][case.reason].as_u64().unwrap() >= 1,
            "{report}"
        );
        assert_eq!(report["reload"]["applied"], 0, "case {i}: {report}");
        // Put the good state back before the next case.
        publish(dir.path(), "geofn.toml", good_manifest);
        publish(dir.path(), "probe.wasm", &v1);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // After all that, a good change still goes through.
    publish(dir.path(), "probe.wasm", &v2);
    wait_for_version(&host, "v2").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_half_written_component_is_rejected_then_loaded_once_complete() {
    let db = TestDb::start();
    let dir = probe_dir();
    let host = serve(&db, dir.path(), &[]).await;
    let v2 = probe_bytes("v2");
    // Written in place, not renamed: the host sees the half file first.
    std::fs::write(dir.path().join("probe.wasm"), &v2[..v2.len() / 3]).unwrap();
    let rejected = host
        .wait_for_log("reload.reason=\"invalid-component\"", SWAP_TIMEOUT)
        .await;
    assert!(rejected, "{}", host.logs());
    assert_eq!(version(&host).await.1.as_deref(), Some("v1"));
    std::fs::write(dir.path().join("probe.wasm"), &v2).unwrap();
    wait_for_version(&host, "v2").await;
}

/// Lays out `dir` the way the kubelet mounts a ConfigMap: files are symlinks
/// through `..data`, which points at a timestamped folder.
fn configmap_version(dir: &Path, stamp: &str, manifest: &str, component: &[u8]) {
    let versioned = dir.join(stamp);
    std::fs::create_dir(&versioned).unwrap();
    std::fs::write(versioned.join("geofn.toml"), manifest).unwrap();
    std::fs::write(versioned.join("probe.wasm"), component).unwrap();
    let tmp = dir.join("..data_tmp");
    std::os::unix::fs::symlink(stamp, &tmp).unwrap();
    std::fs::rename(&tmp, dir.join("..data")).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_configmap_symlink_swap_triggers_exactly_one_reload() {
    let db = TestDb::start();
    let dir = tempfile::tempdir().unwrap();
    configmap_version(
        dir.path(),
        "..2026_11_26_v1",
        PROBE_ENTRY,
        &probe_bytes("v1"),
    );
    for file in ["geofn.toml", "probe.wasm"] {
        std::os::unix::fs::symlink(format!("..data/{file}"), dir.path().join(file)).unwrap();
    }
    let host = serve(&db, dir.path(), &[]).await;
    assert_eq!(version(&host).await.1.as_deref(), Some("v1"));

    configmap_version(
        dir.path(),
        "..2026_11_26_v2",
        PROBE_ENTRY,
        &probe_bytes("v2"),
    );
    std::fs::remove_dir_all(dir.path().join("..2026_11_26_v1")).unwrap();
    wait_for_version(&host, "v2").await;
    // Give stray events and a poll (every 2 s) time to cause a second reload.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let report = admin(&host).await;
    assert_eq!(report["reload"]["applied"], 1, "{report}");
    assert_eq!(
        report["reload"]["rejected"],
        serde_json::json!({}),
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn polling_alone_picks_up_changes() {
    // Events can be missing (NFS, some overlay setups); the poll must do.
    // Simulated by a change the watcher cannot see: the component lives in a
    // subfolder (not watched) reached through a symlink.
    let db = TestDb::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("store")).unwrap();
    std::fs::write(dir.path().join("store/probe.wasm"), probe_bytes("v1")).unwrap();
    std::fs::write(dir.path().join("geofn.toml"), PROBE_ENTRY).unwrap();
    std::os::unix::fs::symlink("store/probe.wasm", dir.path().join("probe.wasm")).unwrap();
    let host = serve(&db, dir.path(), &["--reload-poll-ms", "200"]).await;
    std::fs::write(dir.path().join("store/probe.wasm"), probe_bytes("v2")).unwrap();
    wait_for_version(&host, "v2").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restart_with_a_warm_cache_compiles_nothing() {
    let db = TestDb::start();
    let dir = probe_dir();
    let cache = tempfile::tempdir().unwrap();
    let cache_arg = cache.path().to_str().unwrap();
    let host = serve(&db, dir.path(), &["--cache-dir", cache_arg]).await;
    let cold = admin(&host).await;
    assert_eq!(cold["compile_cache"]["misses"], 1, "{cold}");
    host.kill().await;

    let host = serve(&db, dir.path(), &["--cache-dir", cache_arg]).await;
    let warm = admin(&host).await;
    assert_eq!(warm["compile_cache"]["misses"], 0, "{warm}");
    assert_eq!(warm["compile_cache"]["hits"], 1, "{warm}");
    let cold_ms = cold["handlers"][0]["compile_ms"].as_f64().unwrap();
    let warm_ms = warm["handlers"][0]["compile_ms"].as_f64().unwrap();
    assert!(
        warm_ms < cold_ms,
        "cache did not help: {warm_ms} ms vs {cold_ms} ms"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_routes_need_the_token_and_exist_only_with_one() {
    let db = TestDb::start();
    let dir = probe_dir();
    let without = Host::serve(&db, dir.path(), &[]).await;
    let response = client()
        .get(without.url("/admin/handlers"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    let host = serve(&db, dir.path(), &[]).await;
    for request in [
        client().get(host.url("/admin/handlers")),
        client()
            .get(host.url("/admin/handlers"))
            .bearer_auth("wrong"),
    ] {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(response.headers().contains_key("www-authenticate"));
    }
    let report = admin(&host).await;
    let handler = &report["handlers"][0];
    assert_eq!(handler["name"], "probe");
    assert_eq!(
        handler["routes"],
        serde_json::json!(["GET /probe/{action}"])
    );
    let sha = handler["sha256"].as_str().unwrap();
    assert_eq!(sha.len(), 64);
    assert_eq!(report["reload"]["versions"]["probe"], sha);
    assert_eq!(handler["size"], probe_bytes("v1").len());
    assert!(handler["loaded_at"].as_str().unwrap().contains('T'));
    assert!(handler["compile_ms"].as_f64().unwrap() > 0.0);
}
