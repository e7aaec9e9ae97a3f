//! A new user's handler, end to end and black-box, in Rust and in Python:
//! `geofn new` writes it outside this repository, it builds with nothing
//! but a package registry (cargo; componentize-py from PyPI), `geofn push`
//! deploys it to a running host (name, routes and migration from the
//! artifact), it serves and survives a restart, and an edited migration is
//! refused while the running version keeps answering. Both templates make
//! the same API, so one scenario checks both.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{Host, TestDb, get_status_json, post_json_text, shipped_handlers, target_dir};
use tokio::process::Command;

const TOKEN: &str = "new-handler-token";

/// Runs a build step; the test fails with its stderr unless it succeeds.
async fn succeed(command: &mut Command) {
    let output = command.output().await.unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Builds the crate in `dir` for wasm32-wasip2, as its README says.
async fn cargo_build(dir: &Path) -> std::path::PathBuf {
    let target = target_dir().join("new-handlers");
    succeed(
        Command::new("cargo")
            .args(["build", "--release", "--target", "wasm32-wasip2"])
            .current_dir(dir)
            .env("CARGO_TARGET_DIR", &target)
            .env_remove("RUSTFLAGS"),
    )
    .await;
    target.join("wasm32-wasip2/release/demo.wasm")
}

/// Builds the Python handler in `dir` with its `build.sh`. The script
/// installs componentize-py into `.venv` on first use; the suite's (the
/// same pinned version, `make python-handlers`) stands in for that download.
async fn python_build(dir: &Path) -> std::path::PathBuf {
    let venv = dir.join(".venv");
    if !venv.exists() {
        std::os::unix::fs::symlink(target_dir().join("tools/componentize-py"), &venv).unwrap();
    }
    succeed(Command::new("./build.sh").current_dir(dir)).await;
    dir.join("demo.wasm")
}

async fn build(dir: &Path, lang: &str) -> std::path::PathBuf {
    match lang {
        "python" => python_build(dir).await,
        _ => cargo_build(dir).await,
    }
}

/// `geofn push FILE --url URL`, with only the token in the environment.
async fn push(component: &Path, url: &str) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_geofn"))
        .arg("push")
        .arg(component)
        .args(["--url", url])
        .env("GEOFN_ADMIN_TOKEN", TOKEN)
        .output()
        .await
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

async fn serve(db: &TestDb) -> Host {
    Host::serve(db, &shipped_handlers(), &["--admin-token", TOKEN]).await
}

async fn post(host: &Host, body: &str) -> (StatusCode, Option<String>, Value) {
    let posted = post_json_text(host.url("/demo"), body.to_owned()).await;
    (posted.status, posted.location, posted.body)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_rust_handler_builds_deploys_serves_and_keeps_its_schema() {
    new_handler_end_to_end("rust").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_python_handler_builds_deploys_serves_and_keeps_its_schema() {
    new_handler_end_to_end("python").await;
}

async fn new_handler_end_to_end(lang: &str) {
    let crate_dir = tempfile::tempdir().unwrap();
    let dir = crate_dir.path().join("demo");
    let made = Command::new(env!("CARGO_BIN_EXE_geofn"))
        .args(["new", "demo", "--lang", lang, "--dir"])
        .arg(&dir)
        .output()
        .await
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let started = Instant::now();
    let component = build(&dir, lang).await;
    eprintln!("built {} in {:?}", component.display(), started.elapsed());

    let db = TestDb::start();
    let host = serve(&db).await;
    let (pushed, said) = push(&component, &host.base).await;
    assert!(pushed, "{said}");
    assert!(said.contains("\"0001-demo\""), "{said}");

    // Served without a restart, as soon as the replica has reloaded.
    let deadline = Instant::now() + Duration::from_secs(10);
    while get_status_json(&host.url("/demo/1")).await.0 == StatusCode::NOT_FOUND
        && host.logs().matches("handler swapped in").count() == 0
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let paris = r#"{"type": "Feature", "geometry": {"type": "Point", "coordinates": [2.35, 48.85]}, "properties": {"name": "Paris"}}"#;
    let (status, location, feature) = post(&host, paris).await;
    assert_eq!(status, StatusCode::CREATED, "{feature}");
    let id = feature["id"].as_i64().unwrap();
    assert_eq!(location.as_deref(), Some(format!("/demo/{id}").as_str()));
    assert_eq!(
        feature["geometry"],
        json!({"type": "Point", "coordinates": [2.35, 48.85]})
    );
    assert_eq!(feature["properties"]["name"], "Paris");
    let (status, fetched) = get_status_json(&host.url(&format!("/demo/{id}"))).await;
    assert_eq!((status, &fetched), (StatusCode::OK, &feature));
    let (status, collection) = get_status_json(&host.url("/demo?bbox=2,48,3,49")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(collection["features"], json!([feature]));
    let (_, empty) = get_status_json(&host.url("/demo?bbox=-10,-10,-9,-9")).await;
    assert_eq!(empty["features"], json!([]));

    // Bad input: a 400 problem, nothing stored.
    for (body, status) in [
        (
            r#"{"type": "Feature", "geometry": {"type": "Point", "coordinates": [200, 0]}}"#,
            400,
        ),
        (
            r#"{"type": "Feature", "geometry": {"type": "LineString", "coordinates": [1, 2]}}"#,
            400,
        ),
        (r#"{"type": "Feature""#, 400),
    ] {
        let (got, _, problem) = post(&host, body).await;
        assert_eq!(got.as_u16(), status, "{body}: {problem}");
        assert!(
            problem["type"]
                .as_str()
                .unwrap()
                .starts_with("urn:geofn:problem:")
        );
    }
    let (status, problem) = get_status_json(&host.url("/demo/abc")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    assert_eq!(problem["parameter"], "id");
    let (status, problem) = get_status_json(&host.url("/demo?bbox=1,2")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    let (_, all) = get_status_json(&host.url("/demo")).await;
    assert_eq!(all["features"].as_array().unwrap().len(), 1);

    // A restart serves the pushed version from the database, with the
    // value the operator gives the template's variable this time.
    let status = host.terminate().await;
    assert!(status.success());
    let mut command = Host::serve_command(&db, &shipped_handlers());
    command
        .args(["--listen", "127.0.0.1:0", "--admin-token", TOKEN])
        .env("GEOFN_VAR_DEMO_MAX_FEATURES", "0");
    let host = Host::spawn(command).await;
    assert_eq!(
        get_status_json(&host.url(&format!("/demo/{id}"))).await.0,
        StatusCode::OK
    );
    let (_, none) = get_status_json(&host.url("/demo")).await;
    assert_eq!(none["features"], json!([]), "max_features = 0 applies");

    // Editing an applied migration is refused; the running version stays.
    let manifest = dir.join("geofn-handler.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        text.replace("DEFAULT '{}'", "DEFAULT '{\"v\": 2}'"),
    )
    .unwrap();
    let edited = build(&dir, lang).await;
    let (pushed, said) = push(&edited, &host.base).await;
    assert!(!pushed, "an edited migration was accepted: {said}");
    assert!(said.contains("was applied with other SQL"), "{said}");
    assert_eq!(
        get_status_json(&host.url(&format!("/demo/{id}"))).await.0,
        StatusCode::OK
    );
}
