//! The schema, created and upgraded by the host at start: no manual `psql`.
//!
//! Migrations are numbered and applied once each, in one transaction under an
//! advisory lock, so replicas starting together do not race.

use deadpool_postgres::Object;

use super::StartError;

/// Arbitrary constant key of the advisory lock that serialises migrations
/// across replicas ("geofn" in ASCII).
const MIGRATION_LOCK: i64 = 0x67_656f_666e;

/// One schema step. Statements must be safe on a database that already has
/// the guide's hand-made `points` table.
struct Migration {
    version: i32,
    name: &'static str,
    sql: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "points",
        sql: "
        CREATE TABLE IF NOT EXISTS points (
            id bigserial PRIMARY KEY,
            name varchar(100) NOT NULL,
            geom geometry(Point, 4326) NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now()
        );
        -- The guide's table (id SERIAL, no created_at) is adopted as is.
        ALTER TABLE points ADD COLUMN IF NOT EXISTS created_at timestamptz NOT NULL DEFAULT now();
        CREATE INDEX IF NOT EXISTS points_geom_gist ON points USING gist (geom);
    ",
    },
    Migration {
        version: 2,
        name: "points geography index",
        // Distances on the sphere (near=, radius=) filter with ST_DWithin and
        // order with <-> on geom::geography; this index serves both.
        sql: "CREATE INDEX IF NOT EXISTS points_geog_gist ON points USING gist ((geom::geography));",
    },
    Migration {
        version: 3,
        name: "handler versions",
        // Components pushed to the fleet (crate::fleet): one active per name.
        sql: "
        CREATE TABLE IF NOT EXISTS geofn_handler_versions (
            name text NOT NULL,
            version integer NOT NULL,
            sha256 text NOT NULL,
            component bytea NOT NULL,
            routes text[] NOT NULL,
            limits jsonb NOT NULL DEFAULT '{}',
            created_at timestamptz NOT NULL DEFAULT now(),
            active boolean NOT NULL DEFAULT false,
            PRIMARY KEY (name, version)
        );
        CREATE UNIQUE INDEX IF NOT EXISTS geofn_handler_versions_one_active
            ON geofn_handler_versions (name) WHERE active;
    ",
    },
    Migration {
        version: 4,
        name: "handler roles",
        // The secret handler roles' passwords and fleet notifications are
        // derived from (crate::db::roles), and the database access of
        // pushed versions. Host tables stay the host's alone.
        sql: "
        CREATE TABLE IF NOT EXISTS geofn_secrets (
            name text PRIMARY KEY,
            value bytea NOT NULL
        );
        ALTER TABLE geofn_handler_versions
            ADD COLUMN IF NOT EXISTS access jsonb NOT NULL DEFAULT '{}';
    ",
    },
];

/// Run at every start, whatever the migrations: the host's tables are no
/// one else's, and no role may create objects in `public` or in the
/// database unless granted by name (PostgreSQL 15 starts that way; older
/// databases and hand-made grants may not). Only what the host's role is
/// allowed to change is changed; [`crate::db::roles`] checks the rest for
/// every handler role.
const HARDEN: &str = "
    REVOKE ALL ON geofn_migrations, geofn_handler_versions, geofn_secrets FROM PUBLIC;
    DO $$
    BEGIN
        IF has_schema_privilege('public', 'public', 'CREATE')
           AND pg_has_role((SELECT nspowner FROM pg_namespace WHERE nspname = 'public'), 'USAGE')
        THEN
            REVOKE CREATE ON SCHEMA public FROM PUBLIC;
        END IF;
        IF has_database_privilege('public', current_database(), 'CREATE')
           AND pg_has_role((SELECT datdba FROM pg_database WHERE datname = current_database()), 'USAGE')
        THEN
            EXECUTE format('REVOKE CREATE ON DATABASE %I FROM PUBLIC', current_database());
        END IF;
    END $$;
";

/// Ensures PostGIS is installed and every migration is applied.
pub async fn migrate(client: &mut Object, target: &str) -> Result<(), StartError> {
    let query = |context: &'static str| move |source| StartError::Query { context, source };
    let tx = super::locked_transaction(client, MIGRATION_LOCK)
        .await
        .map_err(query("starting the migration transaction"))?;

    let installed = tx
        .query_opt("SELECT 1 FROM pg_extension WHERE extname = 'postgis'", &[])
        .await
        .map_err(query("looking for PostGIS"))?
        .is_some();
    if !installed {
        let available = tx
            .query_opt(
                "SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'",
                &[],
            )
            .await
            .map_err(query("looking for PostGIS"))?
            .is_some();
        if !available {
            return Err(StartError::PostgisMissing {
                target: target.to_owned(),
            });
        }
        tx.batch_execute("CREATE EXTENSION IF NOT EXISTS postgis")
            .await
            .map_err(query(
                "creating the PostGIS extension (the database user needs CREATE on the database)",
            ))?;
        tracing::info!("created the postgis extension");
    }

    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS geofn_migrations (
            version integer PRIMARY KEY,
            name text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now()
        )",
    )
    .await
    .map_err(query("creating geofn_migrations"))?;
    let applied: i32 = tx
        .query_one(
            "SELECT coalesce(max(version), 0) FROM geofn_migrations",
            &[],
        )
        .await
        .map_err(query("reading geofn_migrations"))?
        .get(0);

    for migration in MIGRATIONS.iter().filter(|m| m.version > applied) {
        let failed = |source| StartError::Migration {
            version: migration.version,
            name: migration.name,
            source,
        };
        tx.batch_execute(migration.sql).await.map_err(failed)?;
        tx.execute(
            "INSERT INTO geofn_migrations (version, name) VALUES ($1, $2)",
            &[&migration.version, &migration.name],
        )
        .await
        .map_err(failed)?;
        tracing::info!(
            migration.version = migration.version,
            migration.name = migration.name,
            "applied migration"
        );
    }
    tx.batch_execute(HARDEN)
        .await
        .map_err(query("keeping the host's tables and public to the host"))?;
    tx.commit()
        .await
        .map_err(query("committing the migrations"))?;
    Ok(())
}
