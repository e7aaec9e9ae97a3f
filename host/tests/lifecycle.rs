//! The host's life: health, durability across a crash, traps, `geofn dev`.

mod support;

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};
use support::{Host, TestDb, client, handlers_dir, points_and_probe, shipped_handlers};

#[tokio::test(flavor = "multi_thread")]
async fn status_follows_the_database_and_livez_does_not() {
    let mut db = TestDb::start();
    let host = Host::serve(&db, &shipped_handlers(), &["--pool-wait-ms", "1000"]).await;
    let status = client().get(host.url("/status")).send().await.unwrap();
    assert_eq!(status.status(), StatusCode::OK);
    let body: Value = status.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(
        body["handlers"],
        json!(["features", "feeds", "points", "regions", "tiles"])
    );

    db.cluster.stop().unwrap();
    let status = client().get(host.url("/status")).send().await.unwrap();
    assert_eq!(status.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(status.headers()[CONTENT_TYPE], "application/problem+json");
    assert!(status.headers().contains_key("retry-after"));
    let livez = client().get(host.url("/livez")).send().await.unwrap();
    assert_eq!(livez.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_201_is_committed_even_if_the_host_dies_right_after() {
    let db = TestDb::start();
    let host = Host::serve(&db, &shipped_handlers(), &[]).await;
    let response = client()
        .post(host.url("/point"))
        .json(&json!({"name": "Madrid", "longitude": -3.7038, "latitude": 40.4168}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.unwrap();
    host.kill().await;

    // The row is there for anyone, before any restart...
    assert_eq!(db.count_points().await, 1);
    // ...and a new host serves it.
    let host = Host::serve(&db, &shipped_handlers(), &[]).await;
    let fetched: Value = support::get_json(host.url(&format!("/points/{}", created["id"]))).await;
    assert_eq!(fetched, created);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_trapping_handler_gets_a_500_and_the_next_request_succeeds() {
    let db = TestDb::start();
    let handlers = points_and_probe();
    let host = Host::serve(&db, handlers.path(), &[]).await;

    let trapped = client().get(host.url("/probe/trap")).send().await.unwrap();
    assert_eq!(trapped.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(trapped.headers()[CONTENT_TYPE], "application/problem+json");
    let problem: Value = trapped.json().await.unwrap();
    assert_eq!(problem["type"], "urn:geofn:problem:handler-failed");

    let echo = client()
        .get(host.url("/probe/echo?x=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(echo.status(), StatusCode::OK);
    let echoed: Value = echo.json().await.unwrap();
    assert_eq!(echoed["query"], "x=1");
    let points = client().get(host.url("/points")).send().await.unwrap();
    assert_eq!(points.status(), StatusCode::OK);
    // The panic message reached the log, tagged with the handler.
    let logs = host.logs();
    assert!(logs.contains("probe: trapping on request"), "{logs}");
    // The 500 itself is an ERROR line inside the request's span, so it
    // names the request and path an operator looks for.
    let failed = logs
        .lines()
        .find(|line| line.contains("response failed"))
        .unwrap_or_else(|| panic!("no failure line: {logs}"));
    assert!(failed.contains("ERROR"), "{failed}");
    assert!(failed.contains("request.id="), "{failed}");
    assert!(failed.contains("url.path=/probe/trap"), "{failed}");
    assert!(failed.contains("status=500"), "{failed}");
}

#[tokio::test(flavor = "multi_thread")]
async fn query_json_answers_rows_as_one_json_array_in_select_list_order() {
    let db = TestDb::start();
    let handlers = points_and_probe();
    let host = Host::serve(&db, handlers.path(), &[]).await;
    let response = client()
        .get(host.url("/probe/db-json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.text().await.unwrap();
    // Byte for byte: compact, members in select-list order, floats as
    // floats, json copied as PostgreSQL prints it, NaN as null.
    let row = |n: i64| {
        format!(
            r#"{{"id":{n},"name":"zoë \"{n}","first":{},"x":{:?},"doc":{{"a": [1, 2]}},"at":"2026-01-02T03:04:05Z","nothing":null,"nan":null}}"#,
            n == 1,
            1.5 * n as f64
        )
    };
    assert_eq!(body, format!("[{},{}]", row(1), row(2)));

    // A geometry has no JSON form: the handler is told which column and how to shape it.
    let response = client()
        .get(host.url("/probe/db-json?geometry"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let answer: Value = response.json().await.unwrap();
    let error = answer["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("UnsupportedType")
            && error.contains(r#"\"g\""#)
            && error.contains("ST_AsGeoJSON"),
        "{answer}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_db_value_kind_round_trips_through_postgres() {
    let db = TestDb::start();
    let handlers = points_and_probe();
    let host = Host::serve(&db, handlers.path(), &[]).await;
    let response = client()
        .get(host.url("/probe/db-echo"))
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    let cells = body["cells"].as_array().unwrap_or_else(|| panic!("{body}"));
    assert_eq!(cells[0], json!({"boolean": true}));
    assert_eq!(cells[1], json!({"int": 42}));
    assert_eq!(cells[2], json!({"int": i64::MAX}));
    assert_eq!(cells[3], json!({"float": 0.1}));
    assert_eq!(cells[4], json!({"text": "zoë"}));
    assert_eq!(cells[5], json!({"bytes": [0, 1, 255]}));
    let json_cell: Value = serde_json::from_str(cells[6]["json"].as_str().unwrap()).unwrap();
    assert_eq!(json_cell, json!({"a": [1, 2]}));
    assert_eq!(cells[7], json!({"geometry": [2.3522, 48.8566]}));
    assert!(cells[8]["timestamp"].as_str().unwrap().contains('T'));
    assert_eq!(cells[9], Value::Null);
    assert_eq!(body["columns"][8], "ts");

    // The packed encoding (one buffer, read in place) says exactly the same.
    let packed: Value = support::get_json(host.url("/probe/db-echo?packed")).await;
    assert_eq!(packed["columns"], body["columns"]);
    for (idx, cell) in cells.iter().enumerate() {
        if idx == 8 {
            assert!(
                packed["cells"][8]["timestamp"]
                    .as_str()
                    .unwrap()
                    .contains('T')
            );
        } else {
            assert_eq!(&packed["cells"][idx], cell, "cell {idx}: {packed}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn components_built_against_an_older_0_1_world_still_answer() {
    let db = TestDb::start();
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/empty-wit-0.1.0.wasm");
    let handlers = handlers_dir(
        "[handlers.old]\ncomponent = \"old.wasm\"\nroutes = [\"GET /old\"]\n",
        &[("old.wasm", fixture)],
    );
    let host = Host::serve(&db, handlers.path(), &[]).await;
    let response = client().get(host.url("/old")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{}", host.logs());
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_without_a_reachable_database_fails_with_a_clear_message() {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_geofn"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--db-start-timeout-secs",
            "1",
        ])
        .arg("--handlers")
        .arg(shipped_handlers())
        .env(
            "DATABASE_URL",
            "postgresql://nobody:secret-pw@127.0.0.1:1/none",
        )
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("could not reach PostgreSQL"), "{stderr}");
    assert!(!stderr.contains("secret-pw"), "password leaked: {stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn geofn_dev_runs_its_own_postgis_and_keeps_data_across_restarts() {
    let data = tempfile::Builder::new()
        .prefix("geofn-dev-")
        .tempdir_in("/tmp")
        .unwrap();
    let dev = || {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_geofn"));
        command
            .args(["dev", "--listen", "127.0.0.1:0", "--handlers"])
            .arg(shipped_handlers())
            .arg("--data-dir")
            .arg(data.path())
            .env_remove("DATABASE_URL");
        command
    };
    let host = Host::spawn(dev()).await;
    let created = client()
        .post(host.url("/point"))
        .json(&json!({"name": "New York", "longitude": -74.006, "latitude": 40.7128}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let status = host.terminate().await;
    assert!(status.success(), "geofn dev exited with {status}");
    // The cluster was stopped with the host.
    assert!(
        !data.path().join("pgdata/postmaster.pid").exists(),
        "PostgreSQL still running after geofn dev exited"
    );

    let host = Host::spawn(dev()).await;
    let listed: Vec<Value> = support::get_json(host.url("/points")).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["name"], "New York");
    let status = tokio::time::timeout(Duration::from_secs(60), host.terminate())
        .await
        .unwrap();
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn geofn_health_reports_readiness_by_exit_code() {
    let mut db = TestDb::start();
    let host = Host::serve(&db, &shipped_handlers(), &["--pool-wait-ms", "500"]).await;
    let listen = host.base.trim_start_matches("http://").to_owned();
    let health = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_geofn"))
            .args(["health", "--listen", &listen])
            .output()
            .unwrap()
    };
    assert!(health().status.success());
    db.stop();
    let output = health();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("503"));
    drop(host);
    let output = health();
    assert!(!output.status.success(), "nothing listens any more");
}
