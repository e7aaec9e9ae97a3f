//! A handler's variables and secrets: declared in its manifest, read
//! through `wasi:config/store`, supplied by the environment, a directory of
//! files (a mounted Kubernetes Secret) or `geofn.toml`; a version missing a
//! required one refused while the running one serves; secret values in
//! nothing the host writes, even when the handler is careless with them.

mod support;

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use support::admin::handlers_report;
use support::metrics::{scrape, value};
use support::otlp::Receiver;
use support::traced::traced_host_with;
use support::{Host, PROBE_ENTRY, TestDb, client, handlers_dir, publish, test_handler};

const ADMIN_TOKEN: &str = "variables-test-admin-token";
/// The secret, as the operator's Secret holds it; unlike anything the host
/// would print by itself.
const SECRET: &str = "s3cr3t-7f4e1c9ab2";

async fn get(url: &str) -> (StatusCode, String) {
    let response = client().get(url).send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

async fn config(host: &Host, query: &str) -> (StatusCode, String) {
    get(&host.url(&format!("/probe/config?{query}"))).await
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|err| panic!("{err}: {text}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn values_reach_the_handler_and_secrets_reach_nothing_the_host_writes() {
    let db = TestDb::start();
    let manifest = format!("{PROBE_ENTRY}[handlers.probe.variables]\ngreeting = \"bonjour\"\n");
    let dir = handlers_dir(&manifest, &[("probe.wasm", test_handler("probe-v1"))]);
    // As a Kubernetes Secret mounts: one file per key, a newline at the end.
    let vars = tempfile::tempdir().unwrap();
    std::fs::write(vars.path().join("probe.token"), format!("{SECRET}\n")).unwrap();
    let receiver = Receiver::start().await;
    let vars_dir = vars.path().to_str().unwrap();
    let host = traced_host_with(
        &db,
        dir.path(),
        &receiver.endpoint(),
        &[
            ("GEOFN_VARS_DIR", vars_dir),
            ("GEOFN_ADMIN_TOKEN", ADMIN_TOKEN),
            ("RUST_LOG", "debug"),
        ],
    )
    .await;

    let (status, body) = config(&host, "name=greeting").await;
    assert_eq!(status, StatusCode::OK);
    let answer = json(&body);
    assert_eq!(answer["value"], "bonjour", "geofn.toml's value");
    assert_eq!(answer["names"], serde_json::json!(["greeting", "token"]));
    let (_, body) = config(&host, "name=token").await;
    assert_eq!(
        json(&body)["value"],
        SECRET,
        "the file's value, newline dropped"
    );
    let (_, body) = config(&host, "name=HOME").await;
    assert_eq!(json(&body)["value"], Value::Null, "no host environment");

    // A careless handler writes the secret everywhere it can.
    let mut problems = String::new();
    for leak in ["log", "span", "sql", "panic"] {
        let (status, body) = config(&host, &format!("name=token&leak={leak}")).await;
        if leak == "panic" {
            assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
            problems.push_str(&body);
        }
    }
    // The guest's span and the failed statement's, once exported.
    let mut exported = String::new();
    for _ in 0..100 {
        let spans = receiver.spans();
        exported = format!("{spans:?}");
        if spans.iter().any(|s| s.name.starts_with("careless"))
            && spans.iter().any(|s| s.status_message.contains("integer"))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        exported.contains("careless [secret]"),
        "the guest's span, redacted: {exported}"
    );
    assert!(host.logs().contains("careless: token is [secret]"));
    let report = handlers_report(&host.base, ADMIN_TOKEN).await;
    assert_eq!(
        report["handlers"][0]["variables"],
        serde_json::json!([
            {"name": "greeting", "secret": false, "source": "manifest"},
            {"name": "token", "secret": true, "source": "file"},
        ])
    );
    let metrics = support::metrics::text(&host).await;
    for (what, text) in [
        ("the log", host.logs()),
        ("the exported spans", exported),
        ("the admin answer", report.to_string()),
        ("the metrics", metrics),
        ("the problem documents", problems),
    ] {
        assert!(!text.contains(SECRET), "the secret is in {what}:\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_environment_wins_and_geofn_toml_may_not_hold_secrets() {
    let db = TestDb::start();
    let vars = tempfile::tempdir().unwrap();
    std::fs::create_dir(vars.path().join("probe")).unwrap();
    std::fs::write(vars.path().join("probe/token"), "from-the-file").unwrap();
    let dir = handlers_dir(PROBE_ENTRY, &[("probe.wasm", test_handler("probe-v1"))]);
    let mut command = Host::serve_command(&db, dir.path());
    command
        .args(["--listen", "127.0.0.1:0", "--vars-dir"])
        .arg(vars.path())
        .env("GEOFN_VAR_PROBE_TOKEN", "from-the-environment");
    let host = Host::spawn(command).await;
    let (_, body) = config(&host, "name=token").await;
    assert_eq!(json(&body)["value"], "from-the-environment");
    let (_, body) = config(&host, "name=greeting").await;
    assert_eq!(json(&body)["value"], "hello", "the declared default");

    // A secret in geofn.toml: the host will not start on it, and says why.
    let manifest = format!("{PROBE_ENTRY}[handlers.probe.variables]\ntoken = \"{SECRET}\"\n");
    let bad = handlers_dir(&manifest, &[("probe.wasm", test_handler("probe-v1"))]);
    let mut command = Host::serve_command(&db, bad.path());
    command.args(["--listen", "127.0.0.1:0"]);
    let refused = Host::try_spawn(command)
        .await
        .err()
        .expect("no start with a secret in geofn.toml");
    assert!(
        refused.contains("geofn.toml sets secret variable"),
        "{refused}"
    );
    assert!(!refused.contains(SECRET), "{refused}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_version_missing_a_required_secret_waits_for_it_while_the_old_one_serves() {
    let db = TestDb::start();
    let vars = tempfile::tempdir().unwrap();
    let dir = handlers_dir(PROBE_ENTRY, &[("probe.wasm", test_handler("probe-v1"))]);
    let host = Host::serve(
        &db,
        dir.path(),
        &["--vars-dir", vars.path().to_str().unwrap()],
    )
    .await;
    let bytes = std::fs::read(test_handler("probe-needs-secret")).unwrap();
    publish(dir.path(), "probe.wasm", &bytes);
    assert!(
        host.wait_for_log(
            "reload.reason=\"variable-missing\"",
            Duration::from_secs(10)
        )
        .await,
        "{}",
        host.logs()
    );
    assert!(
        host.logs().contains("GEOFN_VAR_PROBE_TOKEN"),
        "says where to put it"
    );
    let (status, body) = get(&host.url("/probe/version")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json(&body)["version"], "v1", "the running version serves");
    assert_eq!(
        value(
            &scrape(&host).await,
            "geofn_handler_swaps_rejected_total",
            &[("reason", "variable-missing")]
        ),
        1.0
    );

    // The Secret arrives (written beside, then renamed in, as a volume
    // update does): the waiting version loads, with no restart.
    let partial = vars.path().join(".probe.token.tmp");
    std::fs::write(&partial, SECRET).unwrap();
    std::fs::rename(&partial, vars.path().join("probe.token")).unwrap();
    let mut loaded = false;
    for _ in 0..100 {
        let (status, body) = config(&host, "name=token").await;
        if status == StatusCode::OK && json(&body)["value"] == SECRET {
            loaded = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(loaded, "the version never loaded:\n{}", host.logs());
    assert!(!host.logs().contains(SECRET));
}
