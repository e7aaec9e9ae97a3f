//! `geofn push`, `rollback` and `handlers` as a person types them: a local
//! `geofn dev` needs no token, and every refusal says what is wrong and
//! what to do about it.

mod support;

use std::path::Path;
use std::process::Output;

use support::{Host, TestDb, shipped_handlers, target_dir, test_handler};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

const TOKEN: &str = "admin-cli-test-token";

/// `geofn ARGS` with `home` as its home and no token in its environment.
async fn geofn(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_geofn"))
        .args(args)
        .env("HOME", home)
        .env_remove("GEOFN_ADMIN_TOKEN")
        .env_remove("XDG_STATE_HOME")
        .output()
        .await
        .unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A `geofn dev` on `db` with the shipped handlers and its data in
/// `home/.geofn`, started with `home` as its home.
async fn dev(db: &TestDb, home: &Path, extra: &[&str]) -> Host {
    let mut command = Command::new(env!("CARGO_BIN_EXE_geofn"));
    command
        .args(["dev", "--listen", "127.0.0.1:0", "--handlers"])
        .arg(shipped_handlers())
        .arg("--data-dir")
        .arg(home.join(".geofn"))
        .args(extra)
        .env("HOME", home)
        .env("DATABASE_URL", db.cluster.url())
        .env("GEOFN_CACHE_DIR", target_dir().join("test-cache"))
        .env_remove("GEOFN_ADMIN_TOKEN")
        .env_remove("XDG_STATE_HOME");
    Host::spawn(command).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_local_dev_server_needs_no_token_and_keeps_its_own() {
    let db = TestDb::start();
    let home = tempfile::tempdir().unwrap();
    let server = dev(&db, home.path(), &[]).await;

    let listed = geofn(home.path(), &["handlers", "--url", &server.base]).await;
    assert!(listed.status.success(), "{}", stderr(&listed));
    let pushed = geofn(
        home.path(),
        &[
            "push",
            test_handler("probe-v2").to_str().unwrap(),
            "--name",
            "probe",
            "--route",
            "GET /probe/{action}",
            "--url",
            &server.base,
        ],
    )
    .await;
    assert!(pushed.status.success(), "{}", stderr(&pushed));

    let token_file = home.path().join(".geofn/admin-token");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&token_file).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600, "the token is its owner's alone");
    let token = std::fs::read_to_string(&token_file).unwrap();
    let report = support::admin::handlers_report(&server.base, token.trim()).await;
    assert!(
        report["stored"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["name"] == "probe" && v["active"] == true),
        "the push was stored and made active: {report}"
    );

    // Another user of this machine (another home) finds no token.
    let stranger = tempfile::tempdir().unwrap();
    let refused = geofn(stranger.path(), &["handlers", "--url", &server.base]).await;
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).contains("needs its admin token"),
        "{}",
        stderr(&refused)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn refusals_say_what_is_wrong_and_what_to_do() {
    let db = TestDb::start();
    let home = tempfile::tempdir().unwrap();
    let handlers = shipped_handlers();

    // A production server started without a token has no admin routes.
    let plain = Host::serve(&db, &handlers, &[]).await;
    let out = geofn(
        home.path(),
        &["handlers", "--url", &plain.base, "--token", "x"],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    let why = stderr(&out);
    assert!(
        why.contains("has no admin routes") && why.contains("--admin-token"),
        "{why}"
    );

    // One with a token: none given, and a wrong one.
    let guarded = Host::serve(&db, &handlers, &["--admin-token", TOKEN]).await;
    let out = geofn(home.path(), &["handlers", "--url", &guarded.base]).await;
    assert!(
        stderr(&out).contains("needs its admin token"),
        "{}",
        stderr(&out)
    );
    let out = geofn(
        home.path(),
        &["handlers", "--url", &guarded.base, "--token", "guess"],
    )
    .await;
    assert!(
        stderr(&out).contains("refused the admin token given"),
        "{}",
        stderr(&out)
    );
    let out = geofn(
        home.path(),
        &["handlers", "--url", &guarded.base, "--token", TOKEN],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));

    // Nothing listening.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let nowhere = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let out = geofn(
        home.path(),
        &["handlers", "--url", &nowhere, "--token", TOKEN],
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("cannot reach") && stderr(&out).contains("Is geofn running there"),
        "{}",
        stderr(&out)
    );

    // A geofn of another version, and no geofn at all.
    let older = fake_server(r#"{"status":"ok","version":"0.0.9"}"#).await;
    let out = geofn(
        home.path(),
        &["handlers", "--url", &older, "--token", TOKEN],
    )
    .await;
    assert!(
        stderr(&out).contains("runs geofn 0.0.9")
            && stderr(&out).contains(env!("CARGO_PKG_VERSION")),
        "{}",
        stderr(&out)
    );
    let stranger = fake_server("<html>hello</html>").await;
    let out = geofn(
        home.path(),
        &["handlers", "--url", &stranger, "--token", TOKEN],
    )
    .await;
    assert!(
        stderr(&out).contains("does not answer GET /status as a geofn server does"),
        "{}",
        stderr(&out)
    );
}

/// A server on loopback that answers `GET /status` with `status_body` and
/// everything else with a bare 404, as a server of another version (or
/// no geofn at all) would.
async fn fake_server(status_body: &'static str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = vec![0u8; 8192];
                let read = stream.read(&mut request).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&request[..read]);
                let (status, body) = if head.starts_with("GET /status ") {
                    ("200 OK", status_body)
                } else {
                    ("404 Not Found", "not here")
                };
                let answer = format!(
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(answer.as_bytes()).await;
            });
        }
    });
    base
}
