//! The host's own tables, created and upgraded at start: no manual `psql`.
//! Handlers' tables are theirs ([`crate::handler_migrations`]).
//!
//! Migrations are numbered and applied once each, in one transaction under an
//! advisory lock, so replicas starting together do not race.

use deadpool_postgres::Object;

use crate::start::StartError;

/// Arbitrary constant key of the advisory lock that serialises migrations
/// across replicas ("geofn" in ASCII).
const MIGRATION_LOCK: i64 = 0x67_656f_666e;

/// One schema step of the host's own tables.
struct Migration {
    version: i32,
    name: &'static str,
    sql: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    // Versions 1 and 2 created and indexed the points table in earlier
    // releases. The points handler owns that table now and creates it with
    // its own migrations; a database that has it from then gets it moved
    // into the handler's schema by version 6.
    Migration {
        version: 1,
        name: "points (now the points handler's)",
        sql: "SELECT 1",
    },
    Migration {
        version: 2,
        name: "points geography index (now the points handler's)",
        sql: "SELECT 1",
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
        // derived from (crate::roles), and the database access of
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
    Migration {
        version: 5,
        name: "handler migrations",
        // Handlers' own schema migrations (crate::handler_migrations):
        // which role is which handler, what each applied, and the one way a
        // handler's role may write that record: claiming a migration of its
        // own, in the transaction that runs it. The host's role (the
        // function's owner) may claim for any handler, which the
        // host-role mode needs.
        sql: "
        CREATE TABLE IF NOT EXISTS geofn_handler_roles (
            role text PRIMARY KEY,
            handler text NOT NULL
        );
        CREATE TABLE IF NOT EXISTS geofn_handler_migrations (
            handler text NOT NULL,
            id text NOT NULL,
            checksum text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (handler, id)
        );
        CREATE OR REPLACE FUNCTION geofn_claim_migration(for_handler text, migration text, sum text)
        RETURNS text
        LANGUAGE plpgsql SECURITY DEFINER
        SET search_path = pg_catalog, pg_temp
        AS $fn$
        DECLARE
            own text;
            existing text;
        BEGIN
            SELECT r.handler INTO own FROM public.geofn_handler_roles r WHERE r.role = session_user;
            IF own IS NULL AND session_user <> current_user THEN
                RAISE EXCEPTION 'geofn_claim_migration: % is not a handler role', session_user;
            END IF;
            IF own IS NOT NULL AND own <> for_handler THEN
                RAISE EXCEPTION 'geofn_claim_migration: % may claim only its own migrations', session_user;
            END IF;
            INSERT INTO public.geofn_handler_migrations (handler, id, checksum)
                VALUES (for_handler, migration, sum)
                ON CONFLICT (handler, id) DO NOTHING;
            IF FOUND THEN
                RETURN NULL;
            END IF;
            SELECT m.checksum INTO existing FROM public.geofn_handler_migrations m
                WHERE m.handler = for_handler AND m.id = migration;
            RETURN existing;
        END
        $fn$;
        REVOKE ALL ON FUNCTION geofn_claim_migration(text, text, text) FROM PUBLIC;
    ",
    },
    Migration {
        version: 6,
        name: "points moves to the points handler",
        // Earlier releases created the points table themselves, in public.
        // It is the points handler's now, in its own schema: moved there
        // with its rows, sequence and indexes; the handler's role becomes
        // its owner when it is set up (crate::roles), and the handler's
        // own migrations find it there (CREATE ... IF NOT EXISTS).
        sql: "
        DO $$
        BEGIN
            IF to_regclass('public.points') IS NOT NULL THEN
                CREATE SCHEMA IF NOT EXISTS points;
                ALTER TABLE public.points SET SCHEMA points;
            END IF;
        END
        $$;
    ",
    },
    Migration {
        version: 7,
        name: "pushed versions from an OCI registry",
        // A version pushed by reference stores the reference, pinned to a
        // digest, and its size; every replica pulls the component itself.
        sql: "
        ALTER TABLE geofn_handler_versions ALTER COLUMN component DROP NOT NULL;
        ALTER TABLE geofn_handler_versions ADD COLUMN IF NOT EXISTS source text;
        ALTER TABLE geofn_handler_versions ADD COLUMN IF NOT EXISTS size integer;
    ",
    },
    Migration {
        version: 8,
        name: "schedule leases",
        // When each handler's schedule is next due, and who ran it last
        // (crate::schedule_leases): one tick, one replica.
        sql: "
        CREATE TABLE IF NOT EXISTS geofn_schedule_leases (
            handler text NOT NULL,
            schedule text NOT NULL,
            next_due timestamptz NOT NULL,
            last_started timestamptz,
            last_replica text,
            PRIMARY KEY (handler, schedule)
        );
    ",
    },
];

/// Run at every start, whatever the migrations: the host's tables are no
/// one else's, and no role may create objects in `public` or in the
/// database unless granted by name (PostgreSQL 15 starts that way; older
/// databases and hand-made grants may not). Only what the host's role is
/// allowed to change is changed; [`crate::roles`] checks the rest for
/// every handler role.
const HARDEN: &str = "
    REVOKE ALL ON geofn_migrations, geofn_handler_versions, geofn_secrets,
        geofn_handler_roles, geofn_handler_migrations, geofn_schedule_leases FROM PUBLIC;
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
    let tx = crate::lock::locked_transaction(client, MIGRATION_LOCK)
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
