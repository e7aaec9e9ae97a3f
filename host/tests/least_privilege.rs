//! A hostile handler against the database: every way out of its role is
//! refused, with a superuser and with a least-privilege host role; a slow
//! statement is cancelled at the deadline and its connection comes back
//! idle; a handler at its share of the pool waits alone; the memory budget
//! holds under a flood of memory-hungry requests.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;
use support::metrics::{scrape, value};
use support::{Host, PROBE_ENTRY, TestDb, client, shipped_handlers, shipped_plus, test_handler};
use tokio::process::Command;

/// The shipped handlers plus the probe under `/probe/...`, `extra` appended.
fn handlers_with_probe(extra: &str) -> tempfile::TempDir {
    shipped_plus(
        &format!("{PROBE_ENTRY}{extra}"),
        &[("probe.wasm", test_handler("probe-v1"))],
    )
}

async fn get(url: &str) -> (StatusCode, Value) {
    let response = client().get(url).send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// `n` requests to `path` at once; each yields its status and whether it
/// carried `Retry-After`.
fn flood(
    host: &Arc<Host>,
    path: &str,
    n: usize,
) -> Vec<tokio::task::JoinHandle<(StatusCode, bool)>> {
    (0..n)
        .map(|_| {
            let url = host.url(path);
            tokio::spawn(async move {
                let response = client().get(url).send().await.unwrap();
                (
                    response.status(),
                    response.headers().contains_key("retry-after"),
                )
            })
        })
        .collect()
}

/// How many of `requests` were served, and how many refused with a 503
/// and `Retry-After`; anything else fails the test.
async fn tally(requests: Vec<tokio::task::JoinHandle<(StatusCode, bool)>>) -> (usize, usize) {
    let (mut ok, mut refused) = (0, 0);
    for request in requests {
        match request.await.unwrap() {
            (StatusCode::OK, _) => ok += 1,
            (StatusCode::SERVICE_UNAVAILABLE, true) => refused += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    (ok, refused)
}

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
    let (status, _) = get(&host.url("/points")).await;
    assert_eq!(status, StatusCode::OK);
    let before = server_state(db, dbname).await;
    let marker = format!("/tmp/geofn-escape-{}", std::process::id());
    let (status, report) = get(&host.url(&format!(
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
    assert_eq!(get(&host.url("/points")).await.0, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hostile_handler_stays_in_its_role_when_the_host_is_a_superuser() {
    let db = TestDb::start();
    let dir = handlers_with_probe("");
    let host = Host::serve(&db, dir.path(), &[]).await;
    // The test cluster's own user: a superuser.
    let (status, session) = get(&host.url("/probe/session")).await;
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
    let dir = handlers_with_probe("");
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
    assert_eq!(get(&second.url("/points")).await.0, StatusCode::OK);
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
    assert_eq!(get(&host.url("/points")).await.0, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_statement_past_its_deadline_is_cancelled_and_its_connection_comes_back_idle() {
    let db = TestDb::start();
    // One connection for the slow handler: whatever it ran, its next
    // request gets that same connection.
    let dir = handlers_with_probe(
        "[handlers.slow]\ncomponent = \"probe.wasm\"\nroutes = [\"GET /slow/{action}\"]\n\
         [handlers.slow.limits]\ndeadline_ms = 2000\ndb_connections = 1\n",
    );
    let host = Arc::new(Host::serve(&db, dir.path(), &[]).await);
    let (status, session) = get(&host.url("/slow/session")).await;
    assert_eq!(status, StatusCode::OK, "{session}");
    assert_eq!(session["statement_timeout"]["text"], "2s", "{session}");

    let started = Instant::now();
    let (status, problem) = get(&host.url("/slow/sleep?ms=20000")).await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT, "{problem}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );

    // The server stops the statement: nothing sleeps any more.
    let observer = db.client().await;
    let mut still = i64::MAX;
    for _ in 0..50 {
        still = sleeping(&observer).await;
        if still == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(still, 0, "the statement outlived its call");

    // A burst to the same handler (its one connection), another handler
    // and readiness: all answered, fast.
    let mut burst = Vec::new();
    for i in 0..45 {
        let host = host.clone();
        burst.push(tokio::spawn(async move {
            let path = match i % 3 {
                0 => "/slow/sleep?ms=1",
                1 => "/points?limit=1",
                _ => "/status",
            };
            let started = Instant::now();
            let (status, body) = get(&host.url(path)).await;
            (path, status, started.elapsed(), body)
        }));
    }
    for request in burst {
        let (path, status, took, body) = request.await.unwrap();
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        assert!(took < Duration::from_secs(2), "{path} took {took:?}");
    }
    // Ended by the host's cancel, or by the server's statement_timeout
    // (equal to the deadline) when it happened to fire first.
    let samples = scrape(&host).await;
    let ended = value(
        &samples,
        "geofn_db_cancellations_total",
        &[("handler", "slow")],
    ) + value(
        &samples,
        "geofn_db_statement_timeouts_total",
        &[("handler", "slow")],
    );
    assert!(ended >= 1.0, "{}", host.logs());
}

/// Active `pg_sleep` statements, as the server sees them.
async fn sleeping(observer: &tokio_postgres::Client) -> i64 {
    observer
        .query_one(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE state = 'active' AND query LIKE '%pg_sleep%' AND pid <> pg_backend_pid()",
            &[],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_goes_away_takes_its_statement_with_it() {
    let db = TestDb::start();
    let dir = handlers_with_probe("");
    let host = Host::serve(&db, dir.path(), &[]).await;
    let observer = db.client().await;
    // Far from the 10 s deadline and its statement_timeout: only the host
    // can have ended it.
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let gone = impatient.get(host.url("/probe/sleep?ms=8000")).send().await;
    assert!(gone.is_err(), "the request should have timed out");
    let started = Instant::now();
    while sleeping(&observer).await > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "the statement outlived its client"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let samples = scrape(&host).await;
    assert_eq!(
        value(
            &samples,
            "geofn_db_cancellations_total",
            &[("handler", "probe")]
        ),
        1.0
    );
    assert_eq!(get(&host.url("/probe/sleep?ms=1")).await.0, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_host_that_stops_takes_its_statements_with_it() {
    let db = TestDb::start();
    let dir = handlers_with_probe("");
    let host = Host::serve(&db, dir.path(), &["--drain-timeout-secs", "1"]).await;
    let observer = db.client().await;
    let url = host.url("/probe/sleep?ms=30000");
    let request = tokio::spawn(async move { client().get(url).send().await });
    while sleeping(&observer).await == 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let status = host.terminate().await;
    assert!(status.success(), "{status}");
    drop(request);
    // The server notices its client is gone (client_connection_check_interval).
    let started = Instant::now();
    while sleeping(&observer).await > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the statement outlived the host"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_handler_at_its_pool_share_waits_alone() {
    let db = TestDb::start();
    let dir = handlers_with_probe(
        "[handlers.slow]\ncomponent = \"probe.wasm\"\nroutes = [\"GET /slow/{action}\"]\n\
         [handlers.slow.limits]\ndb_connections = 2\n",
    );
    let host = Arc::new(Host::serve(&db, dir.path(), &["--pool-wait-ms", "500"]).await);
    let sleepers = flood(&host, "/slow/sleep?ms=1500", 6);
    // Meanwhile, the neighbours do not notice.
    tokio::time::sleep(Duration::from_millis(100)).await;
    for path in ["/points?limit=1", "/probe/db-echo", "/status"] {
        let started = Instant::now();
        let (status, body) = get(&host.url(path)).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        assert!(started.elapsed() < Duration::from_millis(400), "{path}");
    }
    let (ok, refused) = tally(sleepers).await;
    assert_eq!((ok, refused), (2, 4));
    let samples = scrape(&host).await;
    assert_eq!(
        value(
            &samples,
            "geofn_db_share_exhausted_total",
            &[("handler", "slow")]
        ),
        4.0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_handler_that_changes_its_own_password_is_let_back_in() {
    let db = TestDb::start();
    let dir = handlers_with_probe("");
    let host = Host::serve(&db, dir.path(), &[]).await;
    let (status, body) =
        get(&host.url("/probe/exec?sql=ALTER%20ROLE%20CURRENT_USER%20PASSWORD%20%27mine-now%27"))
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
    let (status, body) = get(&host.url("/probe/db-echo")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(host.logs().contains("restored"), "{}", host.logs());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_memory_budget_holds_under_a_flood_and_leaves_room_for_others() {
    let db = TestDb::start();
    let dir = handlers_with_probe(
        "[handlers.hungry]\ncomponent = \"probe.wasm\"\nroutes = [\"GET /hungry/{action}\"]\n\
         [handlers.hungry.limits]\nmemory_mib = 64\n",
    );
    let budget_mib = 1024;
    let host = Arc::new(
        Host::serve(
            &db,
            dir.path(),
            &["--memory-budget-mib", &budget_mib.to_string()],
        )
        .await,
    );
    // Warm up: compiled code, connections, allocator arenas.
    assert_eq!(
        get(&host.url("/hungry/touch?mib=1")).await.0,
        StatusCode::OK
    );
    assert_eq!(get(&host.url("/points?limit=1")).await.0, StatusCode::OK);
    let own = host.rss_bytes();

    let requests = flood(&host, "/hungry/touch?mib=56&hold_ms=300", 64);
    tokio::time::sleep(Duration::from_millis(50)).await;
    for _ in 0..5 {
        let (status, body) = get(&host.url("/points?limit=5")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (ok, refused) = tally(requests).await;
    let peak = host.peak_rss_bytes();
    eprintln!(
        "memory budget: {ok} served, {refused} refused; RSS {} MiB before, peak {} MiB",
        own >> 20,
        peak >> 20
    );
    assert!(ok >= 8 && refused >= 1, "{ok} ok, {refused} refused");
    // Each refusal counted, a line a second at most saying how many.
    let lines = host.logs().matches("memory budget full").count();
    assert!(
        (1..=2).contains(&lines) && refused > 2,
        "{lines} log lines for {refused} refusals"
    );
    assert!(
        peak < own + ((budget_mib as u64) << 20),
        "peak RSS {peak} above the budget plus the host's own {own}"
    );
    let samples = scrape(&host).await;
    assert_eq!(
        value(&samples, "geofn_memory_budget_bytes", &[]),
        (budget_mib << 20) as f64
    );
    assert_eq!(
        value(&samples, "geofn_memory_budget_reserved_bytes", &[]),
        0.0
    );
    assert!(
        value(
            &samples,
            "geofn_memory_budget_rejected_total",
            &[("handler", "hungry")]
        ) >= refused as f64
    );
}
