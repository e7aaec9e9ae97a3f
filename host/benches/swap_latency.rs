//! Swap latency: from a component fully written (renamed into place) to
//! the first response served by it; and cold-start compile times with and
//! without the compiled-artifact cache.
//!
//! Run with: `make handlers && cargo bench -p geofn --bench swap_latency`

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use serde_json::Value;
use support::{Host, PROBE_ENTRY, TestDb, client, handlers_dir, publish, shipped, test_handler};

const SWAPS: usize = 50;
const TOKEN: &str = "bench";

async fn answered_version(host: &Host) -> Option<String> {
    let body: Value = client()
        .get(host.url("/probe/version"))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    body["version"].as_str().map(str::to_owned)
}

async fn admin(host: &Host) -> Value {
    client()
        .get(host.url("/admin/handlers"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank]
}

#[tokio::main]
async fn main() {
    let db = TestDb::start();
    let dir = handlers_dir(PROBE_ENTRY, &[("probe.wasm", test_handler("probe-v1"))]);
    let host = Host::serve(&db, dir.path(), &["--admin-token", TOKEN]).await;
    let versions = [
        ("v1", std::fs::read(test_handler("probe-v1")).unwrap()),
        ("v2", std::fs::read(test_handler("probe-v2")).unwrap()),
    ];
    let mut latencies = Vec::with_capacity(SWAPS);
    for swap in 0..SWAPS {
        let (name, bytes) = &versions[(swap + 1) % 2];
        publish(dir.path(), "probe.wasm", bytes);
        let written = Instant::now();
        while answered_version(&host).await.as_deref() != Some(name) {
            assert!(
                written.elapsed() < Duration::from_secs(10),
                "swap {swap} never showed"
            );
        }
        latencies.push(written.elapsed());
    }
    latencies.sort();
    println!(
        "swap latency over {SWAPS} swaps (file renamed into place -> first response from it): \
         median {:.1} ms, p90 {:.1} ms, max {:.1} ms",
        percentile(&latencies, 0.5).as_secs_f64() * 1e3,
        percentile(&latencies, 0.9).as_secs_f64() * 1e3,
        latencies.last().unwrap().as_secs_f64() * 1e3,
    );
    drop(host);

    // Cold start: points + probe compiled from scratch, then from the cache.
    let manifest = format!(
        "{}\n{PROBE_ENTRY}",
        std::fs::read_to_string(support::shipped_handlers().join("geofn.toml")).unwrap()
    );
    let both = handlers_dir(
        &manifest,
        &[
            ("points.wasm", shipped("points")),
            ("probe.wasm", test_handler("probe-v1")),
        ],
    );
    let cache = tempfile::tempdir().unwrap();
    let cache_arg = cache.path().to_str().unwrap().to_owned();
    for label in ["cold (empty cache)", "warm (cached)"] {
        let started = Instant::now();
        let host = Host::serve(
            &db,
            both.path(),
            &["--admin-token", TOKEN, "--cache-dir", &cache_arg],
        )
        .await;
        let ready = started.elapsed();
        let report = admin(&host).await;
        let compile: Vec<String> = report["handlers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                format!(
                    "{} {:.1} ms",
                    h["name"].as_str().unwrap(),
                    h["compile_ms"].as_f64().unwrap()
                )
            })
            .collect();
        println!(
            "start {label}: process ready in {:.0} ms; compile {}",
            ready.as_secs_f64() * 1e3,
            compile.join(", ")
        );
        host.kill().await;
    }
}
