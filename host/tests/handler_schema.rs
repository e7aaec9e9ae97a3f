//! Handlers own their schema: migrations carried in the component, applied
//! once however many replicas race, refused when applied ones change or a
//! new one fails, retried when a database fault was what failed; transactions; the matched route reaching the handler;
//! databases of earlier releases adopted with every row.

mod support;

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::metrics::{scrape, value};
use support::{
    Host, PROBE_ENTRY, TestDb, client, get_status_json, handlers_dir, publish, test_handler,
};

/// A directory serving the probe, built with the migrations of `variant`.
fn probe_dir(variant: &str) -> tempfile::TempDir {
    handlers_dir(PROBE_ENTRY, &[("probe.wasm", test_handler(variant))])
}

async fn applied(db: &TestDb, handler: &str) -> Vec<String> {
    db.client()
        .await
        .query(
            "SELECT id FROM geofn_handler_migrations WHERE handler = $1 ORDER BY id",
            &[&handler],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn racing_replicas_apply_each_migration_once() {
    let db = TestDb::start();
    let dir = probe_dir("probe-more");
    let (a, b, c) = tokio::join!(
        Host::serve(&db, dir.path(), &[]),
        Host::serve(&db, dir.path(), &[]),
        Host::serve(&db, dir.path(), &[]),
    );
    assert_eq!(
        applied(&db, "probe").await,
        ["0001-notes", "0002-note-length"]
    );
    let runs: usize = [&a, &b, &c]
        .iter()
        .map(|host| host.logs().matches("applied handler migration").count())
        .sum();
    assert_eq!(
        runs, 2,
        "each migration ran exactly once across the replicas"
    );
    // The schema is the handler's: the second migration's column is there.
    for host in [&a, &b, &c] {
        let (status, _) = get_status_json(&host.url("/probe/tx?do=commit&note=x")).await;
        assert_eq!(status, StatusCode::OK);
    }
    let length_column: i64 = db
        .client()
        .await
        .query_one(
            "SELECT count(*) FROM information_schema.columns \
             WHERE table_schema = 'probe' AND table_name = 'notes' AND column_name = 'length'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(length_column, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_edited_or_failing_migration_is_refused_and_the_running_version_stays() {
    let db = TestDb::start();
    let dir = probe_dir("probe-v1");
    let host = Host::serve(&db, dir.path(), &[]).await;
    assert_eq!(
        get_status_json(&host.url("/probe/tx?do=commit&note=kept"))
            .await
            .0,
        StatusCode::OK
    );
    for (variant, reason) in [
        ("probe-edited", "migration-changed"),
        ("probe-broken", "migration-failed"),
    ] {
        let bytes = std::fs::read(test_handler(variant)).unwrap();
        publish(dir.path(), "probe.wasm", &bytes);
        assert!(
            host.wait_for_log(
                &format!("reload.reason=\"{reason}\""),
                Duration::from_secs(10)
            )
            .await,
            "{}",
            host.logs()
        );
        let (status, notes) = get_status_json(&host.url("/probe/notes")).await;
        assert_eq!(status, StatusCode::OK, "the running version answers");
        assert_eq!(notes["notes"][0]["text"], "kept");
    }
    // Nothing of the failing migration remains, and nothing was recorded.
    assert_eq!(applied(&db, "probe").await, ["0001-notes"]);
    let half: i64 = db
        .client()
        .await
        .query_one(
            "SELECT count(*) FROM information_schema.columns \
             WHERE table_schema = 'probe' AND column_name = 'half_applied'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(half, 0, "a failed migration left part of itself behind");
    // The reason is on /metrics and in the log for whoever wonders.
    let samples = scrape(&host).await;
    for reason in ["migration-changed", "migration-failed"] {
        assert_eq!(
            value(
                &samples,
                "geofn_handler_swaps_rejected_total",
                &[("reason", reason)]
            ),
            1.0,
            "{reason}"
        );
    }
    assert!(host.logs().contains("was applied with other SQL"));
    assert!(host.logs().contains("no_such_function"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_version_refused_for_a_passing_database_fault_is_retried() {
    let db = TestDb::start();
    let dir = probe_dir("probe-v1");
    let host = Host::serve(&db, dir.path(), &[]).await;
    // New connections refused while those open (the host's pool, its fleet
    // listener, this one) carry on: a fault nothing else would report.
    let mut config = db.cluster.config();
    config.dbname("postgres");
    let (admin, connection) = config.connect(tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    let gate = |allow: bool| format!("ALTER DATABASE geofn WITH ALLOW_CONNECTIONS {allow}");
    admin.batch_execute(&gate(false)).await.unwrap();
    let bytes = std::fs::read(test_handler("probe-more")).unwrap();
    publish(dir.path(), "probe.wasm", &bytes);
    let refused = host
        .wait_for_log("connecting as its role", Duration::from_secs(30))
        .await;
    admin.batch_execute(&gate(true)).await.unwrap();
    assert!(refused, "{}", host.logs());
    // No file changed since: the retry alone brings the new version in.
    assert!(
        host.wait_for_log("handler set reloaded", Duration::from_secs(30))
            .await,
        "the refused version was never retried: {}",
        host.logs()
    );
    assert_eq!(
        applied(&db, "probe").await,
        ["0001-notes", "0002-note-length"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn transactions_commit_together_or_not_at_all() {
    let db = TestDb::start();
    // One connection for the probe: a transaction left open would block
    // every later request.
    let manifest = format!("{PROBE_ENTRY}[handlers.probe.limits]\ndb_connections = 1\n");
    let dir = handlers_dir(&manifest, &[("probe.wasm", test_handler("probe-v1"))]);
    let host = Host::serve(&db, dir.path(), &[]).await;
    let (status, body) = get_status_json(&host.url("/probe/tx?do=commit&note=a")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = get_status_json(&host.url("/probe/tx?do=fail&note=failed")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    let (status, body) = get_status_json(&host.url("/probe/tx?do=trap&note=trapped")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    let (status, body) =
        get_status_json(&host.url("/probe/tx?do=commit-after-error&note=late")).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("rolled back"),
        "{body}"
    );
    let (status, body) = get_status_json(&host.url("/probe/notes")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["notes"], json!([{ "text": "a" }, { "text": "a-2" }]));
    let open: i64 = db
        .client()
        .await
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE usename = 'probe@geofn' \
             AND state LIKE 'idle in transaction%'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(open, 0, "a connection was left inside a transaction");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_matched_route_and_its_parameters_reach_the_handler() {
    let db = TestDb::start();
    let manifest = "[handlers.probe]\ncomponent = \"probe.wasm\"\n\
                    routes = [\"GET /things/{name}/{action}\"]\n";
    let dir = handlers_dir(manifest, &[("probe.wasm", test_handler("probe-v1"))]);
    let host = Host::serve(&db, dir.path(), &[]).await;
    let (status, body) = get_status_json(&host.url("/things/caf%C3%A9%20au%20lait/route")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({
            "template": "/things/{name}/{action}",
            "params": [["name", "café au lait"], ["action", "route"]],
        })
    );
}

/// What an earlier release left in its database, as SQL.
fn earlier_release(guide_table: bool) -> &'static str {
    if guide_table {
        // The guide's own psql step: no geofn tables at all.
        "CREATE TABLE points (id SERIAL PRIMARY KEY, name VARCHAR(100) NOT NULL, \
                              geom GEOMETRY(Point, 4326) NOT NULL);"
    } else {
        // geofn up to this change: points in public, made by the host.
        "CREATE TABLE points (id bigserial PRIMARY KEY, name varchar(100) NOT NULL, \
             geom geometry(Point, 4326) NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
         CREATE INDEX points_geom_gist ON points USING gist (geom);
         CREATE INDEX points_geog_gist ON points USING gist ((geom::geography));
         CREATE TABLE geofn_handler_versions (name text NOT NULL, version integer NOT NULL,
             sha256 text NOT NULL, component bytea NOT NULL, routes text[] NOT NULL,
             limits jsonb NOT NULL DEFAULT '{}', created_at timestamptz NOT NULL DEFAULT now(),
             active boolean NOT NULL DEFAULT false, PRIMARY KEY (name, version));
         CREATE TABLE geofn_migrations (version integer PRIMARY KEY, name text NOT NULL,
             applied_at timestamptz NOT NULL DEFAULT now());
         INSERT INTO geofn_migrations (version, name)
             VALUES (1, 'points'), (2, 'points geography index'), (3, 'handler versions');"
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn databases_of_earlier_releases_are_adopted_with_every_row() {
    for guide_table in [false, true] {
        let db = TestDb::start();
        let superuser = db.client().await;
        superuser
            .batch_execute("CREATE EXTENSION IF NOT EXISTS postgis")
            .await
            .unwrap();
        superuser
            .batch_execute(&format!(
                "SET search_path = public; {} \
                 INSERT INTO points (name, geom) SELECT 'old ' || g, \
                     ST_SetSRID(ST_MakePoint(g, g / 2.0), 4326) FROM generate_series(1, 250) g;",
                earlier_release(guide_table)
            ))
            .await
            .unwrap();
        let dir = support::shipped_plus("", &[]);
        let host = Host::serve(&db, dir.path(), &[]).await;
        let (status, listed) = get_status_json(&host.url("/points?limit=1000")).await;
        assert_eq!(status, StatusCode::OK, "{listed}");
        let listed = listed.as_array().unwrap();
        assert_eq!(listed.len(), 250, "guide table: {guide_table}");
        assert_eq!(listed.last().unwrap()["name"], "old 1");
        assert_eq!(listed.last().unwrap()["id"], 1);
        // New rows follow the old ones, and the OGC API reads them all.
        let created = client()
            .post(host.url("/point"))
            .json(&json!({"name": "new", "longitude": 1.0, "latitude": 2.0}))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), StatusCode::CREATED);
        let created: Value = created.json().await.unwrap();
        assert_eq!(created["id"], 251);
        let (status, items) = get_status_json(&host.url("/collections/points/items?limit=1")).await;
        assert_eq!(status, StatusCode::OK, "{items}");
        assert_eq!(items["numberMatched"], 251);
        // The table is the points handler's now, in its schema.
        let owner: String = db
            .client()
            .await
            .query_one(
                "SELECT tableowner::text FROM pg_tables WHERE schemaname = 'points' \
                 AND tablename = 'points'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(owner, "points@geofn");
        let public: Option<String> = db
            .client()
            .await
            .query_one("SELECT to_regclass('public.points')::text", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(public, None, "public.points is gone from public");
    }
}
