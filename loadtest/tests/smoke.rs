//! A few seconds of each model against a stub server: the generator runs,
//! writes its CSV files and charts, and counts no failure where there is none.

use std::path::Path;
use std::process::Command;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::{get, post};

async fn stub() -> String {
    let app = Router::new()
        .route("/points", get(|| async { "[]" }))
        .route("/point", post(|| async { (StatusCode::CREATED, "{}") }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

fn requests_and_failures(dir: &Path) -> (u64, u64) {
    let summary = std::fs::read_to_string(dir.join("summary.csv")).unwrap();
    let all = summary
        .lines()
        .find(|l| l.contains(",all,"))
        .expect("an 'all' row");
    let fields: Vec<&str> = all.split(',').collect();
    (fields[2].parse().unwrap(), fields[3].parse().unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn both_models_produce_results_and_no_failures() {
    let url = stub().await;
    let out = tempfile::tempdir().unwrap();
    for (model, args) in [
        (
            "closed",
            vec![
                "--users",
                "10,20",
                "--spawn-rate",
                "200",
                "--think-min",
                "5ms",
                "--think-max",
                "10ms",
            ],
        ),
        ("open", vec!["--rates", "100,200"]),
    ] {
        let dir = out.path().join(model);
        let status = Command::new(env!("CARGO_BIN_EXE_geofn-load"))
            .arg(model)
            .args(["--url", &url, "--hold", "2s", "--quiet", "--out"])
            .arg(&dir)
            .args(&args)
            .status()
            .unwrap();
        assert!(status.success(), "{model} run failed");
        let (requests, failures) = requests_and_failures(&dir);
        assert!(requests > 50, "{model}: only {requests} requests");
        assert_eq!(
            failures, 0,
            "{model}: failures against a stub that cannot fail"
        );
        for file in ["timeline.csv", "steps.csv"] {
            assert!(dir.join(file).exists(), "{model}: no {file}");
        }
        for chart in ["timeline.svg", "curve.svg"] {
            let svg = std::fs::read_to_string(dir.join(chart))
                .unwrap_or_else(|e| panic!("{model}: no {chart}: {e}"));
            assert!(
                svg.contains("<svg") && svg.contains("<polyline") && svg.contains("p99"),
                "{model}: {chart} has no lines or labels"
            );
        }
    }
}
