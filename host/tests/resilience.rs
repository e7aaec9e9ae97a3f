//! Faults from outside: the database going away, shutdown under load, TLS.

mod support;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use geofn_pgcluster::{ClusterOptions, ServerTls};
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{Host, PROBE_ENTRY, TestDb, client, handlers_dir, shipped_handlers, test_handler};
use tokio::sync::Mutex;

/// What one POST during the outage test got.
#[derive(Debug)]
struct Outcome {
    sent: Instant,
    took: Duration,
    status: StatusCode,
    id: Option<i64>,
}

#[tokio::test(flavor = "multi_thread")]
async fn a_database_outage_loses_no_acknowledged_write_and_service_resumes() {
    let mut db = TestDb::start();
    let host = Arc::new(Host::serve(&db, &shipped_handlers(), &["--pool-wait-ms", "1000"]).await);
    let outcomes = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for writer in 0..4 {
        let (host, outcomes, stop) = (host.clone(), outcomes.clone(), stop.clone());
        writers.push(tokio::spawn(async move {
            let http = reqwest::Client::builder()
                .timeout(Duration::from_secs(15))
                .build()
                .unwrap();
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let sent = Instant::now();
                let response = http
                    .post(host.url("/point"))
                    .json(&json!({"name": format!("w{writer}-{n}"), "longitude": 1, "latitude": 2}))
                    .send()
                    .await
                    .expect("the host stopped answering");
                let status = response.status();
                let retry_after = response.headers().contains_key("retry-after");
                let body: Value = response.json().await.unwrap_or(Value::Null);
                if status == StatusCode::SERVICE_UNAVAILABLE {
                    assert!(retry_after, "503 without Retry-After: {body}");
                }
                outcomes.lock().await.push(Outcome {
                    sent,
                    took: sent.elapsed(),
                    status,
                    id: body["id"].as_i64(),
                });
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }));
    }

    tokio::time::sleep(Duration::from_millis(500)).await;
    db.stop();
    let (status, _) = {
        let response = client().get(host.url("/status")).send().await.unwrap();
        (response.status(), ())
    };
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let livez = client().get(host.url("/livez")).send().await.unwrap();
    assert_eq!(livez.status(), StatusCode::OK);
    tokio::time::sleep(Duration::from_secs(2)).await;
    db.restart();
    let back = Instant::now();
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        writer.await.unwrap();
    }

    let outcomes = outcomes.lock().await;
    let acknowledged: HashSet<i64> = outcomes.iter().filter_map(|o| o.id).collect();
    for outcome in outcomes.iter() {
        match outcome.status {
            StatusCode::CREATED => assert!(outcome.id.is_some()),
            StatusCode::SERVICE_UNAVAILABLE => assert!(
                outcome.took < Duration::from_secs(3),
                "a 503 took {:?}",
                outcome.took
            ),
            other => panic!("unexpected {other} during the outage: {outcome:?}"),
        }
    }
    let failed = outcomes
        .iter()
        .filter(|o| o.status != StatusCode::CREATED)
        .count();
    assert!(failed > 0, "the outage was not noticed");
    let first_after = outcomes
        .iter()
        .filter(|o| o.sent >= back && o.status == StatusCode::CREATED)
        .map(|o| o.sent)
        .min()
        .expect("nothing succeeded after the restart");
    assert!(
        first_after - back < Duration::from_secs(2),
        "resumed after {:?}",
        first_after - back
    );
    let stored: HashSet<i64> = db
        .client()
        .await
        .query("SELECT id FROM points", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let lost: Vec<&i64> = acknowledged.difference(&stored).collect();
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
    eprintln!(
        "outage: {} acknowledged, {failed} refused with 503, none lost",
        acknowledged.len()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_stops_accepting_finishes_requests_in_flight_and_exits_zero() {
    let db = TestDb::start();
    let dir = handlers_dir(PROBE_ENTRY, &[("probe.wasm", test_handler("probe-v1"))]);
    let host = Host::serve(&db, dir.path(), &["--shutdown-delay-ms", "700"]).await;
    let base = host.base.clone();
    let mut slow = Vec::new();
    for _ in 0..12 {
        let url = format!("{base}/probe/sleep?ms=1500");
        slow.push(tokio::spawn(async move {
            client().get(url).send().await.map(|r| r.status())
        }));
    }
    // A client with one idle keep-alive connection, as a proxy has.
    let kept = client();
    let livez = kept.get(format!("{base}/livez")).send().await.unwrap();
    assert_eq!(livez.status(), StatusCode::OK);
    livez.bytes().await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    host.sigterm();
    tokio::time::sleep(Duration::from_millis(100)).await;
    // New connections are refused (a proxy retries them elsewhere)...
    let fresh = client().get(format!("{base}/status")).send().await;
    assert!(
        fresh.is_err(),
        "a new connection was accepted after SIGTERM"
    );
    // ...the open one is still served, not ready, and told to close.
    let status = kept.get(format!("{base}/status")).send().await.unwrap();
    assert_eq!(status.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(status.headers()["connection"], "close");
    for request in slow {
        let status = request.await.unwrap().expect("an accepted request was cut");
        assert_eq!(status, StatusCode::OK);
    }
    let exit = host.wait().await;
    assert!(exit.success(), "exit status {exit}");
}

/// A CA and a server certificate signed by it, for `names`.
fn certificates(names: &[&str]) -> (String, ServerTls) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "geofn test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let server_key = rcgen::KeyPair::generate().unwrap();
    let server_params =
        rcgen::CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
            .unwrap();
    let server = server_params.signed_by(&server_key, &issuer).unwrap();
    (
        ca.pem(),
        ServerTls {
            cert_pem: server.pem(),
            key_pem: server_key.serialize_pem(),
        },
    )
}

async fn serve_with_tls(
    db: &TestDb,
    mode: &str,
    ca: Option<&std::path::Path>,
) -> Result<Host, String> {
    let mut url = format!("{}?sslmode={mode}", db.cluster.url());
    if let Some(ca) = ca {
        url.push_str(&format!("&sslrootcert={}", ca.display()));
    }
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_geofn"));
    command
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--db-start-timeout-secs",
            "2",
        ])
        .arg("--handlers")
        .arg(shipped_handlers())
        .env("DATABASE_URL", &url);
    Host::try_spawn(command).await
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_to_postgres_verifies_what_sslmode_says() {
    let (ca_pem, server) = certificates(&["127.0.0.1", "localhost"]);
    let db = TestDb::start_with(ClusterOptions {
        tls: Some(server),
        ..ClusterOptions::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &ca_pem).unwrap();

    let host = serve_with_tls(&db, "verify-full", Some(&ca))
        .await
        .expect("verify-full with the CA");
    let status = client().get(host.url("/status")).send().await.unwrap();
    assert_eq!(status.status(), StatusCode::OK);
    // The host's connections really are encrypted.
    let encrypted: i64 = db
        .client()
        .await
        .query_one(
            "SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) \
             WHERE ssl AND application_name = 'geofn'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(encrypted >= 1, "no encrypted connection from the host");
    drop(host);

    let refused = serve_with_tls(&db, "verify-full", None)
        .await
        .err()
        .expect("verify-full without the CA must fail");
    assert!(
        refused.contains("certificate") || refused.contains("UnknownIssuer"),
        "{refused}"
    );

    assert!(
        serve_with_tls(&db, "require", None).await.is_ok(),
        "require needs no CA"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_ca_ignores_the_name_and_verify_full_does_not() {
    let (ca_pem, server) = certificates(&["db.example.org"]);
    let db = TestDb::start_with(ClusterOptions {
        tls: Some(server),
        ..ClusterOptions::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &ca_pem).unwrap();
    assert!(serve_with_tls(&db, "verify-ca", Some(&ca)).await.is_ok());
    let refused = serve_with_tls(&db, "verify-full", Some(&ca))
        .await
        .err()
        .expect("name mismatch must fail");
    assert!(
        refused.contains("NotValidForName") || refused.contains("not valid for name"),
        "{refused}"
    );
}
