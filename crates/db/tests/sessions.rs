//! The database layer on its own: a private PostgreSQL with PostGIS, a
//! handler's role, schema, migration and pool set up as a handler set's
//! would be, and a request's session on them. No component, no HTTP: what
//! the runtime's `db` import does, called directly.

use std::time::Duration;

use geofn_contract::access::DatabaseAccess;
use geofn_contract::embedded::Migration;
use geofn_db::handler_databases::{DbPlan, HandlerDatabases, HandlerDbSettings, RoleMode};
use geofn_db::handler_pools::HandlerConnections;
use geofn_db::host_role::HostRole;
use geofn_db::pool::{PoolSettings, connect};
use geofn_db::secret::Secret;
use geofn_db::session::{DbSession, Lane, ReadPlan};
use geofn_db::tls::{SslMode, TlsSettings, connector};
use geofn_db::value::{DbError, Value};
use geofn_pgcluster::{ClusterOptions, PgCluster};

/// A cluster, and the pools of one handler, `notes`, whose migration made
/// its table.
struct Setup {
    connections: HandlerConnections,
    _databases: std::sync::Arc<HandlerDatabases>,
    _cluster: PgCluster,
    _dir: tempfile::TempDir,
}

async fn setup() -> Setup {
    setup_with_share(2).await
}

async fn setup_with_share(share: usize) -> Setup {
    let dir = tempfile::Builder::new()
        .prefix("geofn-db-")
        .tempdir_in("/tmp")
        .unwrap();
    let mut options = ClusterOptions::default();
    options.settings.push(("fsync".into(), "off".into()));
    options.immediate_stop = true;
    let root = dir.path().to_owned();
    let cluster = tokio::task::spawn_blocking(move || PgCluster::start(&root, options))
        .await
        .unwrap()
        .expect("a private PostgreSQL (postgresql-15-postgis-3)");
    let tls = TlsSettings {
        mode: SslMode::Disable,
        root_cert: None,
    };
    let pool = connect(cluster.config(), &tls, &PoolSettings::default())
        .await
        .expect("the host's tables made at start");
    let client = pool.get().await.unwrap();
    let host = HostRole::inspect(&client).await.unwrap();
    let secret = Secret::load(&client).await.unwrap();
    drop(client);
    let databases = HandlerDatabases::new(
        pool,
        cluster.config(),
        None,
        connector(&tls).unwrap(),
        host,
        secret,
        &HandlerDbSettings {
            total: 4,
            wait: Duration::from_secs(2),
            mode: RoleMode::PerHandler,
        },
    );
    let access = DatabaseAccess::default();
    let migrations = [Migration {
        id: "0001-notes".into(),
        sql: "CREATE TABLE notes (id bigserial PRIMARY KEY, body text NOT NULL, \
              geom geometry(Point, 4326))"
            .into(),
    }];
    databases
        .prepare(&[DbPlan {
            handler: "notes",
            access: &access,
            migrations: &migrations,
        }])
        .await
        .expect("role, schema and migration");
    let connections = databases
        .pool("notes", &access, share, Duration::from_secs(5))
        .await;
    Setup {
        connections,
        _databases: databases,
        _cluster: cluster,
        _dir: dir,
    }
}

fn session(setup: &Setup) -> DbSession {
    DbSession::new(&setup.connections, ReadPlan::default()).capped(1 << 20)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_handlers_session_writes_reads_and_stays_in_its_schema() {
    let setup = setup().await;
    let mut db = session(&setup);

    // A point in, as EWKB, and back out as values, packed and as JSON.
    let paris = geofn_contract::ewkb::point(2.3522, 48.8566, 4326);
    let inserted = db
        .execute(
            Lane::Autocommit,
            "INSERT INTO notes (body, geom) VALUES ($1, $2)",
            vec![Value::Text("Paris".into()), Value::Geometry(paris)],
        )
        .await
        .unwrap();
    assert_eq!(inserted, 1);
    let rows = db
        .query(
            Lane::Autocommit,
            "SELECT body, ST_X(geom) AS lon FROM notes",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(rows.columns, ["body", "lon"]);
    assert_eq!(
        rows.rows,
        [vec![Value::Text("Paris".into()), Value::Float(2.3522)]]
    );
    let json = db
        .query_json(Lane::Autocommit, "SELECT id, body FROM notes", vec![])
        .await
        .unwrap();
    assert_eq!(
        String::from_utf8(json).unwrap(),
        r#"[{"id":1,"body":"Paris"}]"#
    );
    let packed = db
        .query_packed(Lane::Autocommit, "SELECT body FROM notes", vec![])
        .await
        .unwrap();
    assert_eq!(packed.count, 1);

    // Its own schema only: the host's tables are out of reach, and session
    // control never reaches the server.
    let outside = db
        .query(
            Lane::Autocommit,
            "SELECT * FROM public.geofn_secrets",
            vec![],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&outside, DbError::QueryFailed(f) if f.code == "42501"),
        "{outside:?}"
    );
    let control = db
        .execute(Lane::Autocommit, "SET search_path = public", vec![])
        .await
        .unwrap_err();
    assert!(matches!(control, DbError::Forbidden(_)), "{control:?}");

    // A parameter that does not fit the column's type names itself.
    let bad = db
        .execute(
            Lane::Autocommit,
            "INSERT INTO notes (body) VALUES ($1)",
            vec![Value::Int(7)],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&bad, DbError::BadParameter(why) if why.contains("$1")),
        "{bad:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn transactions_commit_whole_or_not_at_all_and_big_results_are_refused() {
    let setup = setup().await;
    let mut db = session(&setup);

    db.begin().await.unwrap();
    db.execute(
        Lane::Transaction,
        "INSERT INTO notes (body) VALUES ('kept')",
        vec![],
    )
    .await
    .unwrap();
    db.commit().await.unwrap();

    db.begin().await.unwrap();
    db.execute(
        Lane::Transaction,
        "INSERT INTO notes (body) VALUES ('lost')",
        vec![],
    )
    .await
    .unwrap();
    let failed = db
        .execute(
            Lane::Transaction,
            "INSERT INTO notes (body) VALUES (NULL)",
            vec![],
        )
        .await;
    assert!(failed.is_err());
    let refused = db.commit().await.unwrap_err();
    assert!(
        matches!(&refused, DbError::QueryFailed(f) if f.code == "25P02"),
        "{refused:?}"
    );

    let bodies = session(&setup)
        .query(
            Lane::Autocommit,
            "SELECT body FROM notes ORDER BY id",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(bodies.rows, [vec![Value::Text("kept".into())]]);

    // Rows past the session's cap (1 MiB here) are never gathered.
    let huge = db
        .query(
            Lane::Autocommit,
            "SELECT repeat('x', 1 << 20) FROM generate_series(1, 4)",
            vec![],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&huge, DbError::QueryFailed(f) if f.code == "54000"),
        "{huge:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn claims_reach_sql_for_their_request_only() {
    // One connection: every session below gets the same one.
    let setup = setup_with_share(1).await;
    let claims: std::sync::Arc<str> = std::sync::Arc::from(r#"{"sub":"alice","scope":"a"}"#);
    let seen = "SELECT coalesce(current_setting('request.jwt.claims', true), '') AS claims";
    let read = |rows: geofn_db::value::Rows| match &rows.rows[0][0] {
        Value::Text(text) => text.clone(),
        other => panic!("{other:?}"),
    };

    let mut alice = session(&setup).with_claims(Some(claims.clone()));
    let rows = alice.query(Lane::Autocommit, seen, vec![]).await.unwrap();
    assert_eq!(read(rows), &*claims);
    // Inside a transaction too.
    alice.begin().await.unwrap();
    let rows = alice.query(Lane::Transaction, seen, vec![]).await.unwrap();
    assert_eq!(read(rows), &*claims);
    alice.commit().await.unwrap();
    // A handler cannot set them itself.
    let forged = alice
        .query(
            Lane::Autocommit,
            "SELECT set_config('request.jwt.claims', '{\"sub\":\"bob\"}', false)",
            vec![],
        )
        .await
        .unwrap_err();
    assert!(matches!(forged, DbError::Forbidden(_)), "{forged:?}");
    drop(alice);

    // The next request on the same connection sees nothing of Alice's.
    let mut anonymous = session(&setup);
    for _ in 0..20 {
        let rows = anonymous.query(Lane::Autocommit, seen, vec![]).await;
        match rows {
            Ok(rows) => {
                assert_eq!(read(rows), "");
                return;
            }
            // Alice's connection is still being cleared: wait for it.
            Err(DbError::Unavailable(_)) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(other) => panic!("{other:?}"),
        }
    }
    panic!("the connection never came back");
}
