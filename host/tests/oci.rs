//! Handlers through an OCI registry, with a real one on loopback (Debian's
//! `docker-registry`, CNCF Distribution): `geofn publish` writes the CNCF
//! Wasm layout, `geofn push oci://…:TAG` resolves the tag once and every
//! replica pulls that digest; a moved tag changes nothing, a tampered blob
//! or a dead registry leaves the running version serving; a tag in a
//! handlers directory is refused; the Python component the same way.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use geofn_test_registry::{TestRegistry, digest};
use serde_json::Value;
use support::metrics::{scrape, value};
use support::oci::{
    TOKEN, geofn, probe_dir, push_probe, serve_command, succeeded, wait_for_version,
};
use support::{
    Host, PROBE_ENTRY, TestDb, client, handlers_dir, python_points, shipped_plus, target_dir,
    test_handler,
};

/// `geofn publish FILE REFERENCE` to a plain-HTTP registry; the pinned
/// reference it prints.
fn publish(registry: &TestRegistry, file: &Path, repo_and_tag: &str) -> String {
    let output = geofn(
        &[
            "publish",
            file.to_str().unwrap(),
            &registry.reference(repo_and_tag),
            "--oci-insecure-registries",
            &registry.host,
        ],
        &[],
    );
    succeeded(&output).trim().to_owned()
}

/// A replica with a cache (compiled components, pulled blobs) of its own.
async fn replica(db: &TestDb, handlers: &Path, cache: &Path, extra: &[&str]) -> Host {
    let mut args = vec![
        "--admin-token",
        TOKEN,
        "--cache-dir",
        cache.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    Host::serve(db, handlers, &args).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tag_is_resolved_once_and_every_replica_pulls_that_digest() {
    let registry = TestRegistry::plain();
    let db = TestDb::start();
    let dir = probe_dir();
    let caches = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let insecure = ["--oci-insecure-registries", registry.host.as_str()];
    let a = replica(&db, dir.path(), caches[0].path(), &insecure).await;
    let b = replica(&db, dir.path(), caches[1].path(), &insecure).await;

    // Publish: the CNCF Wasm layout, the digest printed.
    let v2 = test_handler("probe-v2");
    let v2_bytes = std::fs::read(&v2).unwrap();
    let pinned = publish(&registry, &v2, "team/probe:stable");
    let manifest = registry.manifest("team/probe", "stable");
    assert_eq!(
        pinned,
        format!("{}@{}", registry.reference("team/probe"), digest(&manifest))
    );
    let layout: Value = serde_json::from_slice(&manifest).unwrap();
    assert_eq!(
        layout["config"]["mediaType"],
        "application/vnd.wasm.config.v0+json"
    );
    assert_eq!(layout["layers"].as_array().unwrap().len(), 1);
    assert_eq!(layout["layers"][0]["mediaType"], "application/wasm");
    assert_eq!(layout["layers"][0]["digest"], digest(&v2_bytes));

    // Push by tag through one replica: the fleet keeps the digest.
    let started = Instant::now();
    let pushed: Value = serde_json::from_str(&push_probe(
        &registry.reference("team/probe:stable"),
        &a.base,
    ))
    .unwrap();
    eprintln!("push by tag, probe (Rust): {:?}", started.elapsed());
    assert_eq!(pushed["source"], pinned.as_str(), "{pushed}");
    assert_eq!(pushed["served_here"], true);
    wait_for_version(&a.base, "v2").await;
    wait_for_version(&b.base, "v2").await;
    for host in [&a, &b] {
        let report = support::admin::handlers_report(&host.base, TOKEN).await;
        assert_eq!(report["stored"][0]["source"], pinned.as_str(), "{report}");
        // Each replica pulled the component itself and kept it by digest.
        let samples = scrape(host).await;
        assert_eq!(
            value(&samples, "geofn_oci_pulls_total", &[("result", "pulled")]),
            1.0,
            "{}",
            host.base
        );
    }
    for cache in &caches {
        let kept = cache.path().join("blobs").join(&digest(&v2_bytes)[7..]);
        assert_eq!(std::fs::read(&kept).unwrap(), v2_bytes);
    }

    // The tag moves: nothing changes, now or for a replica started later.
    publish(&registry, &test_handler("probe-v1"), "team/probe:stable");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let late_cache = tempfile::tempdir().unwrap();
    let late = replica(&db, dir.path(), late_cache.path(), &insecure).await;
    for host in [&a, &b, &late] {
        assert_eq!(
            support::probe_version(&host.base).await.as_deref(),
            Some("v2")
        );
    }

    // Pushing again is what moves the fleet.
    push_probe(&registry.reference("team/probe:stable"), &b.base);
    for host in [&a, &b, &late] {
        wait_for_version(&host.base, "v1").await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_artifact_or_a_dead_registry_leaves_the_running_version_serving() {
    let registry = TestRegistry::plain();
    let db = TestDb::start();
    let dir = probe_dir();
    let cache = tempfile::tempdir().unwrap();
    let host = replica(
        &db,
        dir.path(),
        cache.path(),
        &["--oci-insecure-registries", registry.host.as_str()],
    )
    .await;
    let push = |reference: String| {
        client()
            .put(host.url(&format!(
                "/admin/handlers/probe?source={}",
                form_urlencoded::byte_serialize(reference.as_bytes()).collect::<String>()
            )))
            .bearer_auth(TOKEN)
            .send()
    };

    // A blob tampered with in the registry's storage (same size).
    let v2 = std::fs::read(test_handler("probe-v2")).unwrap();
    publish(&registry, &test_handler("probe-v2"), "probe:v2");
    let file = registry.blob_file(&digest(&v2));
    let mut stored = std::fs::read(&file).unwrap();
    let middle = stored.len() / 2;
    stored[middle] ^= 0x55;
    std::fs::write(&file, stored).unwrap();
    let answer = push(registry.reference("probe:v2")).await.unwrap();
    assert_eq!(answer.status(), 422);
    assert_eq!(answer.headers()["content-type"], "application/problem+json");
    let problem: Value = answer.json().await.unwrap();
    assert_eq!(
        problem["type"], "urn:geofn:problem:oci-digest-mismatch",
        "{problem}"
    );

    // Not there; a registry nobody answers for.
    let answer = push(registry.reference("probe:nope")).await.unwrap();
    assert_eq!(answer.status(), 404);
    let unreachable = format!("oci://127.0.0.1:{}/probe:v2", support::free_port());
    let answer = client()
        .put(host.url(&format!(
            "/admin/handlers/probe?source={}",
            form_urlencoded::byte_serialize(unreachable.as_bytes()).collect::<String>()
        )))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 502);
    let problem: Value = answer.json().await.unwrap();
    assert_eq!(problem["type"], "urn:geofn:problem:oci-unreachable");

    // A body and a source at once is no push.
    let answer = client()
        .put(host.url("/admin/handlers/probe?source=oci%3A%2F%2F127.0.0.1%3A1%2Fp%3Av"))
        .bearer_auth(TOKEN)
        .body(v2.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 400);

    // Nothing was stored, v1 serves, every refusal was counted.
    assert_eq!(
        support::probe_version(&host.base).await.as_deref(),
        Some("v1")
    );
    let report = support::admin::handlers_report(&host.base, TOKEN).await;
    assert_eq!(report["stored"], serde_json::json!([]), "{report}");
    let samples = scrape(&host).await;
    for result in ["digest-mismatch", "not-found", "unreachable"] {
        assert_eq!(
            value(&samples, "geofn_oci_pulls_total", &[("result", result)]),
            1.0,
            "{result}"
        );
    }
    assert!(
        !cache.path().join("blobs").join(&digest(&v2)[7..]).exists(),
        "a tampered component was kept"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tag_in_the_handlers_directory_is_refused_at_start() {
    let db = TestDb::start();
    let dir = handlers_dir(
        &PROBE_ENTRY.replace("probe.wasm", "oci://127.0.0.1:1/probe:v1"),
        &[],
    );
    let refused = Host::try_spawn(serve_command(&db, dir.path(), None))
        .await
        .err()
        .expect("it must not start");
    assert!(refused.contains("by digest"), "{refused}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_python_points_handler_ships_through_the_registry() {
    let registry = TestRegistry::plain();
    let db = TestDb::start();
    let dir = shipped_plus("", &[]);
    let python = python_points();
    let bytes = std::fs::read(&python).unwrap();
    // The suite's shared cache has the compiled Python component; the
    // pulled bytes must come from the registry, not from an earlier run.
    let kept = target_dir()
        .join("test-cache/blobs")
        .join(&digest(&bytes)[7..]);
    let _ = std::fs::remove_file(&kept);
    let host = Host::serve(
        &db,
        dir.path(),
        &[
            "--admin-token",
            TOKEN,
            "--oci-insecure-registries",
            &registry.host,
        ],
    )
    .await;

    let started = Instant::now();
    publish(&registry, &python, "geofn/points-python:1");
    eprintln!(
        "publish, points (Python, {} bytes): {:?}",
        bytes.len(),
        started.elapsed()
    );
    let started = Instant::now();
    let output = geofn(
        &[
            "push",
            &registry.reference("geofn/points-python:1"),
            "--url",
            &host.base,
        ],
        &[],
    );
    let pushed: Value = serde_json::from_str(&succeeded(&output)).unwrap();
    eprintln!("push by tag, points (Python): {:?}", started.elapsed());
    assert_eq!(pushed["name"], "points", "{pushed}");
    assert_eq!(pushed["sha256"], &digest(&bytes)[7..]);
    assert_eq!(std::fs::read(&kept).unwrap(), bytes);

    let created = client()
        .post(host.url("/point"))
        .json(&serde_json::json!({"longitude": 2.35, "latitude": 48.85, "name": "through the registry"}))
        .send()
        .await
        .unwrap();
    assert!(created.status().is_success(), "{}", created.status());
    let points: Value = client()
        .get(host.url("/points"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        points.to_string().contains("through the registry"),
        "{points}"
    );
    let report = support::admin::handlers_report(&host.base, TOKEN).await;
    let served = report["handlers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == "points")
        .unwrap();
    assert_eq!(served["sha256"], &digest(&bytes)[7..]);
}
