//! A hostile handler against the database: every way out of its role is
//! refused, with a superuser and with a least-privilege host role, and a
//! handler that changes its own password is let back in.

mod support;

use std::time::Duration;

use reqwest::StatusCode;
use support::metrics::{scrape, value};
use support::{Host, TestDb, client, get_status_json, points_and_probe_with, shipped_handlers};
use tokio::process::Command;

/// Everything on the database server a handler must not be able to change:
/// the host's tables (contents, not just counts), roles, databases,
/// extensions, what `public` holds, and server settings.
async fn server_state(db: &TestDb, dbname: &str) -> Vec<String> {
    let mut config = db.cluster.config_for(dbname);
    config.options("-c search_path=points,public");
    let (client, connection) = config.connect(tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    let mut state = Vec::new();
    for sql in [
        "SELECT string_agg(name || ':' || version || ':' || sha256 || ':' || active, ',' ORDER BY name, version) FROM geofn_handler_versions",
        "SELECT string_agg(version || ':' || name, ',' ORDER BY version) FROM geofn_migrations",
        "SELECT string_agg(name || ':' || encode(value, 'hex'), ',' ORDER BY name) FROM geofn_secrets",
        "SELECT string_agg(rolname || ':' || rolsuper || rolcreaterole || rolcreatedb || rolbypassrls, ',' ORDER BY rolname) FROM pg_roles",
        "SELECT string_agg(m.roleid::regrole || '>' || m.member::regrole, ',' ORDER BY 1) FROM pg_auth_members m",
        "SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database",
        "SELECT string_agg(extname, ',' ORDER BY extname) FROM pg_extension",
        "SELECT string_agg(c.relname, ',' ORDER BY c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'",
        "SELECT string_agg(handler || ':' || id || ':' || checksum, ',' ORDER BY handler, id) FROM geofn_handler_migrations",
        "SELECT string_agg(role || ':' || handler, ',' ORDER BY role) FROM geofn_handler_roles",
        "SELECT string_agg(nspname, ',' ORDER BY nspname) FROM pg_namespace",
        "SELECT count(*)::text FROM pg_largeobject_metadata",
        "SELECT string_agg(name || '=' || setting, ',' ORDER BY name) FROM pg_file_settings",
        "SELECT count(*)::text FROM points",
    ] {
        let row = client.query_one(sql, &[]).await.unwrap();
        state.push(format!(
            "{sql}\n  => {}",
            row.get::<_, Option<String>>(0).unwrap_or_default()
        ));
    }
    state
}

/// Runs the probe's escape attempts against a host whose database role is
/// `host_role`, and checks that nothing got out.
async fn assert_no_escape(db: &TestDb, dbname: &str, host: &Host, host_role: &str) {
    // Something worth stealing or breaking in the host's tables.
    let (status, _) = get_status_json(&host.url("/points")).await;
    assert_eq!(status, StatusCode::OK);
    let before = server_state(db, dbname).await;
    let marker = format!("/tmp/geofn-escape-{}", std::process::id());
    let (status, report) = get_status_json(&host.url(&format!(
        "/probe/escape?host_role={host_role}&marker={marker}"
    )))
    .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let attempts = report["attempts"].as_object().unwrap();
    assert!(attempts.len() >= 40, "{report}");
    // Reads through query-json, whose rows the host renders, among them.
    for name in ["json-read-host-versions", "json-read-password-hashes"] {
        assert!(attempts.contains_key(name), "{name} missing: {report}");
    }
    let escaped: Vec<_> = attempts
        .iter()
        .filter(|(_, outcome)| outcome["refused"] != true)
        .map(|(name, outcome)| format!("{name}: {outcome}"))
        .collect();
    assert!(escaped.is_empty(), "not refused: {escaped:#?}");
    // Refused for the right reason: by the host, or by PostgreSQL's
    // privileges (SQLSTATE 42501), not by a typo in the attempt.
    for (name, outcome) in attempts {
        let error = outcome["error"].as_str().unwrap_or_default();
        assert!(
            error.contains("Forbidden") || error.contains("42501"),
            "{name} failed for another reason: {error}"
        );
    }

    // Nothing ran or was written on the database host.
    for suffix in ["program", "do-program", "file", "lo"] {
        let path = format!("{marker}-{suffix}");
        assert!(
            !std::path::Path::new(&path).exists(),
            "{path} was written on the database host"
        );
    }
    let after = server_state(db, dbname).await;
    assert_eq!(
        before, after,
        "the database changed under a hostile handler"
    );

    // The one thing any role may do, a NOTIFY on the fleet's channel, ran
    // hidden from the host's own check, and the replica ignored it.
    assert_eq!(report["hidden_notify"], "Ok(0)", "{report}");
    assert!(
        host.wait_for_log(
            "ignored a notification no host signed",
            Duration::from_secs(5)
        )
        .await,
        "{}",
        host.logs()
    );
    let samples = scrape(host).await;
    assert!(value(&samples, "geofn_fleet_notifications_ignored_total", &[]) >= 1.0);
    assert_eq!(
        get_status_json(&host.url("/points")).await.0,
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hostile_handler_stays_in_its_role_when_the_host_is_a_superuser() {
    let db = TestDb::start();
    let dir = points_and_probe_with("");
    let host = Host::serve(&db, dir.path(), &[]).await;
    // The test cluster's own user: a superuser.
    let (status, session) = get_status_json(&host.url("/probe/session")).await;
    assert_eq!(status, StatusCode::OK, "{session}");
    assert_eq!(session["user"]["text"], "probe@geofn", "{session}");
    assert_no_escape(&db, "geofn", &host, "geofn").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hostile_handler_stays_in_its_role_behind_the_shipped_initdb_script() {
    let db = TestDb::start();
    // What the PostGIS image does on first start: the database, then our
    // init script as the image's superuser.
    let superuser = db.client().await;
    superuser
        .batch_execute("CREATE DATABASE gisdb")
        .await
        .unwrap();
    let script = support::topology::deploy_dir().join("helm/postgis/initdb/20-geofn-roles.sh");
    let output = Command::new("bash")
        .arg(&script)
        .env("PGHOST", "127.0.0.1")
        .env("PGPORT", db.cluster.port().to_string())
        .env("PGPASSWORD", db.cluster.password())
        .env("POSTGRES_USER", geofn_pgcluster::DEV_USER)
        .env("POSTGRES_DB", "gisdb")
        .env("GEOFN_DB_USER", "gisuser")
        .env("GEOFN_DB_PASSWORD", "gispassword")
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let dir = points_and_probe_with("");
    let url = format!(
        "postgresql://gisuser:gispassword@127.0.0.1:{}/gisdb",
        db.cluster.port()
    );
    let mut command = Command::new(env!("CARGO_BIN_EXE_geofn"));
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--handlers"])
        .arg(dir.path())
        .env("DATABASE_URL", url.clone())
        .env("GEOFN_CACHE_DIR", support::target_dir().join("test-cache"));
    let host = Host::spawn(command).await;
    assert!(host.logs().contains("superuser=false"), "{}", host.logs());
    // A second replica finds every role there already: it must set them
    // up again (ALTER, not CREATE) with no more rights than the first.
    let mut again = Command::new(env!("CARGO_BIN_EXE_geofn"));
    again
        .args(["serve", "--listen", "127.0.0.1:0", "--handlers"])
        .arg(dir.path())
        .env("DATABASE_URL", url.clone())
        .env("GEOFN_CACHE_DIR", support::target_dir().join("test-cache"));
    let second = Host::spawn(again).await;
    assert_eq!(
        get_status_json(&second.url("/points")).await.0,
        StatusCode::OK
    );
    let (status, _) = client()
        .post(host.url("/point"))
        .json(&serde_json::json!({"name": "Paris", "longitude": 2.35, "latitude": 48.85}))
        .send()
        .await
        .map(|r| (r.status(), ()))
        .unwrap();
    assert_eq!(status, StatusCode::CREATED);
    assert_no_escape(&db, "gisdb", &host, "gisuser").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_host_role_that_cannot_create_roles_refuses_unless_told_so_loudly() {
    let db = TestDb::start();
    let superuser = db.client().await;
    for sql in [
        "CREATE ROLE plain LOGIN PASSWORD 'plain'",
        "CREATE DATABASE plaindb OWNER plain",
    ] {
        superuser.batch_execute(sql).await.unwrap();
    }
    let (client, connection) = db
        .cluster
        .config_for("plaindb")
        .connect(tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .batch_execute("CREATE EXTENSION postgis")
        .await
        .unwrap();
    let url = format!(
        "postgresql://plain:plain@127.0.0.1:{}/plaindb",
        db.cluster.port()
    );
    let serve = |extra: &[&str]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_geofn"));
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--handlers"])
            .arg(shipped_handlers())
            .args(extra)
            .env("DATABASE_URL", &url)
            .env("GEOFN_CACHE_DIR", support::target_dir().join("test-cache"));
        command
    };
    let refused = Host::try_spawn(serve(&[])).await.err().expect("it started");
    assert!(
        refused.contains("CREATEROLE") && refused.contains("--unsafe-handler-sql-as-host-role"),
        "{refused}"
    );
    let host = Host::spawn(serve(&["--unsafe-handler-sql-as-host-role"])).await;
    assert!(host.logs().contains("unsafe-handler-sql-as-host-role"));
    assert_eq!(
        get_status_json(&host.url("/points")).await.0,
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_handler_that_changes_its_own_password_is_let_back_in() {
    let db = TestDb::start();
    let dir = points_and_probe_with("");
    let host = Host::serve(&db, dir.path(), &[]).await;
    let (status, body) = get_status_json(
        &host.url("/probe/exec?sql=ALTER%20ROLE%20CURRENT_USER%20PASSWORD%20%27mine-now%27"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Its pooled connections end; new ones need the password.
    db.client()
        .await
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'probe@geofn'",
            &[],
        )
        .await
        .unwrap();
    // Let the host's side of those connections see them close (a pool
    // hands out a connection whose end it has not heard of yet).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (status, body) = get_status_json(&host.url("/probe/db-echo")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(host.logs().contains("restored"), "{}", host.logs());
}
