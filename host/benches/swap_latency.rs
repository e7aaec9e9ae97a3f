//! Swap latency: from a component fully written (renamed into place) to
//! the first response served by it, idle and under load; from a fleet push
//! to the other replica serving it, under load; where the slowest swaps
//! spent their time (the reload loop's phases); and cold-start compile
//! times with and without the compiled-artifact cache.
//!
//! Run with: `make handlers && cargo bench -p geofn --bench swap_latency`

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use serde_json::Value;
use support::load::{Load, Tally};
use support::{Host, TestDb, client, points_and_probe, publish, test_handler};

const SWAPS: usize = 50;
const PUSHES: usize = 30;
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

/// Swaps the probe `SWAPS` times by renaming a file into place; the time
/// from each rename to the first answer from the new version.
async fn file_swaps(
    host: &Host,
    dir: &std::path::Path,
    versions: &[(&str, Vec<u8>)],
) -> Vec<Duration> {
    let mut latencies = Vec::with_capacity(SWAPS);
    for swap in 0..SWAPS {
        let (name, bytes) = &versions[(swap + 1) % 2];
        publish(dir, "probe.wasm", bytes);
        let written = Instant::now();
        while answered_version(host).await.as_deref() != Some(name) {
            assert!(
                written.elapsed() < Duration::from_secs(10),
                "swap {swap} never showed"
            );
        }
        latencies.push(written.elapsed());
    }
    latencies
}

/// What the load did meanwhile.
fn summary(tally: &Tally) -> String {
    format!(
        "{} reads, {} writes, {} failures",
        tally.gets,
        tally.created.len(),
        tally.get_failures.len() + tally.post_failures.len()
    )
}

fn report(what: &str, latencies: &[Duration]) {
    let mut sorted = latencies.to_vec();
    sorted.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "{what}: {} swaps, median {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        sorted.len(),
        ms(percentile(&sorted, 0.5)),
        ms(percentile(&sorted, 0.9)),
        ms(percentile(&sorted, 0.99)),
        ms(*sorted.last().unwrap()),
    );
}

/// The three slowest reloads in `host`'s log, phase by phase.
fn slowest_phases(what: &str, host: &Host) {
    let field = |line: &str, key: &str| -> f64 {
        line.split(&format!(" {key}="))
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    };
    let mut reloads: Vec<(f64, String)> = host
        .logs()
        .lines()
        .filter(|line| line.contains("handler set reloaded"))
        .map(|line| {
            let phases = ["settle", "snapshot", "compile", "database", "assemble"]
                .iter()
                .map(|p| format!("{p} {:.1}", field(line, &format!("reload.{p}_ms"))))
                .collect::<Vec<_>>()
                .join(", ");
            (field(line, "reload.ms"), phases)
        })
        .collect();
    reloads.sort_by(|a, b| b.0.total_cmp(&a.0));
    for (total, phases) in reloads.iter().take(3) {
        println!("  {what}, a slowest reload: {total:.1} ms = {phases} (ms)");
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank]
}

#[tokio::main]
async fn main() {
    let db = TestDb::start();
    let versions = [
        ("v1", std::fs::read(test_handler("probe-v1")).unwrap()),
        ("v2", std::fs::read(test_handler("probe-v2")).unwrap()),
    ];
    // The shipped handlers and the probe, as a deployment would have them.
    let dir = points_and_probe();
    let host = Host::serve(&db, dir.path(), &["--admin-token", TOKEN]).await;
    let idle = file_swaps(&host, dir.path(), &versions).await;
    report("file swaps, idle", &idle);
    // Six clients reading pages and two writing, on the same two cores.
    let load = Load::start(&host.url(""), "/points?limit=100", 6, 2);
    let loaded = file_swaps(&host, dir.path(), &versions).await;
    let tally = load.finish().await;
    report(
        &format!("file swaps under load ({})", summary(&tally)),
        &loaded,
    );
    slowest_phases("file swaps", &host);

    // A second replica on the same database: pushes go to the first, the
    // second is under load and swaps on the notification.
    let other_dir = points_and_probe();
    let other = Host::serve(&db, other_dir.path(), &["--admin-token", TOKEN]).await;
    let load = Load::start(&other.url(""), "/points?limit=100", 6, 2);
    let mut answered = Vec::with_capacity(PUSHES);
    let mut served = Vec::with_capacity(PUSHES);
    let mut whole = Vec::with_capacity(PUSHES);
    let mut slowest_push = (Duration::ZERO, String::new());
    for push in 0..PUSHES {
        let (name, bytes) = &versions[(push + 1) % 2];
        let sent = Instant::now();
        let response = client()
            .put(host.url("/admin/handlers/probe"))
            .bearer_auth(TOKEN)
            .body(bytes.clone())
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "push {push}: {}",
            response.status()
        );
        let acknowledged = sent.elapsed();
        let body: Value = response.json().await.unwrap();
        slowest_push = slowest_push.max((acknowledged, body["timings_ms"].to_string()));
        while answered_version(&other).await.as_deref() != Some(name) {
            assert!(
                sent.elapsed() < Duration::from_secs(10),
                "push {push} never reached the other replica"
            );
        }
        answered.push(acknowledged);
        served.push(sent.elapsed() - acknowledged);
        whole.push(sent.elapsed());
    }
    let tally = load.finish().await;
    report(
        "fleet push answered by the replica it was sent to",
        &answered,
    );
    report(
        &format!(
            "fleet push, answered -> the other replica (under load: {}) serving it",
            summary(&tally)
        ),
        &served,
    );
    report("fleet push, sent -> the other replica serving it", &whole);
    println!(
        "  fleet pushes, the slowest answer: {:.1} ms = {} (ms)",
        slowest_push.0.as_secs_f64() * 1e3,
        slowest_push.1
    );
    slowest_phases("fleet pushes, the other replica", &other);
    drop(other);
    drop(host);

    // Cold start: every shipped handler and the probe compiled from
    // scratch, then from the cache.
    let both = points_and_probe();
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
