//! Throughput of `GET /points?limit=10` straight to one replica, and
//! through the shipped nginx and HAProxy configurations to three — the
//! comparison the guide makes. Needs `wrk` (apt-get install wrk).
//!
//! Run with: `make handlers test-deps && cargo bench -p geofn --bench proxies`

#[path = "../tests/support/mod.rs"]
mod support;

use support::topology::{Kind, Proxy, Replicas};
use support::{TestDb, client, shipped_handlers};

const SECONDS: &str = "10";
const CONNECTIONS: &str = "32";

fn wrk(url: &str) -> (f64, String) {
    let output = std::process::Command::new("wrk")
        .args([
            "-t2",
            "-c",
            CONNECTIONS,
            "-d",
            &format!("{SECONDS}s"),
            "--latency",
            url,
        ])
        .output()
        .expect("wrk not found: apt-get install wrk");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let rps = text
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0);
    let p99 = text
        .lines()
        .find(|l| l.trim_start().starts_with("99%"))
        .map(|l| l.trim().trim_start_matches("99%").trim().to_owned())
        .unwrap_or_default();
    assert!(!text.contains("Non-2xx"), "errors under load:\n{text}");
    (rps, p99)
}

#[tokio::main]
async fn main() {
    let db = TestDb::start();
    let replicas = Replicas::start(&db, &shipped_handlers(), &[]).await;
    for i in 0..100 {
        client()
            .post(format!("{}/point", replicas.urls()[0]))
            .json(&serde_json::json!({"name": format!("p{i}"), "longitude": 1, "latitude": 2}))
            .send()
            .await
            .unwrap();
    }
    let nginx = Proxy::start(Kind::Nginx, &replicas).await;
    let haproxy = Proxy::start(Kind::Haproxy, &replicas).await;
    let path = "/points?limit=10";
    println!("GET {path}, wrk -t2 -c{CONNECTIONS} -d{SECONDS}s, everything on this machine:");
    for (label, base) in [
        ("direct, one replica", replicas.urls()[0].clone()),
        ("nginx, three replicas", nginx.base.clone()),
        ("HAProxy, three replicas", haproxy.base.clone()),
    ] {
        let (rps, p99) = tokio::task::spawn_blocking(move || wrk(&format!("{base}{path}")))
            .await
            .unwrap();
        println!("| {label} | {rps:.0} req/s | p99 {p99} |");
    }
}
