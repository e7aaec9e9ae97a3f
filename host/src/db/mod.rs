//! PostgreSQL/PostGIS: the pool, the schema, and the mapping between the
//! WIT `db` values and PostgreSQL types.
//!
//! - [`pool`]: connecting with bounded retries and checking the server at start.
//! - [`migrate`]: the schema, created and upgraded at start under an advisory lock.
//! - [`bind`]: WIT values → statement parameters, checked against inferred types.
//! - [`capped_rows`]: a statement's rows, read only while they fit the handler's memory.
//! - [`decode`]: result columns → WIT values.
//! - [`json_rows`]: result rows → one JSON array (`db.query-json`).
//! - [`geometry`]: EWKB ↔ `postgis` crate geometries, dimension-preserving.
//! - [`roles`]: every handler's own database role and schema.
//! - [`grants`]: what a handler's role may reach of other handlers'.
//! - [`handler_migrations`]: a handler's own schema steps, applied once.
//! - [`handler_databases`]: all of that for a handler set, and its pools.
//! - [`handler_pools`]: one pool per handler, its share of the connections.
//! - [`session`]: what one request's guest does with the database.
//! - [`replica`]: reads on a streaming replica, and when not to.
//! - [`statement_policy`]: what SQL a handler may send, judged by its text.
//! - [`tls`]: rustls with libpq's `sslmode` meanings.

pub mod bind;
pub mod capped_rows;
pub mod decode;
pub mod geometry;
pub mod grants;
pub mod handler_databases;
pub mod handler_migrations;
pub mod handler_pools;
pub mod json_rows;
pub mod migrate;
pub mod pool;
pub mod replica;
pub mod roles;
pub mod session;
pub mod statement_policy;
pub mod tls;

pub use deadpool_postgres::Pool;
pub use pool::{PoolSettings, connect};

/// A transaction holding the advisory lock `key` until it ends, so that
/// replicas doing the same DDL at once take turns, with PostgreSQL's
/// "already exists, skipping" notices (expected on every start but the
/// first) kept out of the log.
pub async fn locked_transaction(
    client: &mut deadpool_postgres::Object,
    key: i64,
) -> Result<deadpool_postgres::Transaction<'_>, tokio_postgres::Error> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&key])
        .await?;
    tx.batch_execute("SET LOCAL client_min_messages = warning")
        .await?;
    Ok(tx)
}

/// Why the database could not be made ready at start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The server never accepted a connection before the start deadline.
    #[error("could not reach PostgreSQL at {target} within {waited:?}: {source}")]
    Unreachable {
        /// Redacted connection target.
        target: String,
        /// How long we kept trying.
        waited: std::time::Duration,
        /// The last connection error.
        source: tokio_postgres::Error,
    },
    /// The server refused us for a reason retrying will not fix (auth, no such database).
    #[error("PostgreSQL at {target} refused the connection: {source}")]
    Refused {
        /// Redacted connection target.
        target: String,
        /// The server's answer.
        source: tokio_postgres::Error,
    },
    /// The PostGIS extension is not installed on the server.
    #[error(
        "the PostGIS extension is not available on PostgreSQL at {target}: install it on the \
         server (Debian: postgresql-15-postgis-3; Docker: postgis/postgis:15-3.4)"
    )]
    PostgisMissing {
        /// Redacted connection target.
        target: String,
    },
    /// A migration statement failed.
    #[error("migration {version} ({name}) failed: {source}")]
    Migration {
        /// Migration number.
        version: i32,
        /// Migration name.
        name: &'static str,
        /// The server's answer.
        source: tokio_postgres::Error,
    },
    /// Any other database error while starting, with what we were doing.
    #[error("{context}: {source}")]
    Query {
        /// What the host was doing.
        context: &'static str,
        /// The server's answer.
        source: tokio_postgres::Error,
    },
    /// The pool itself could not be built (bad configuration).
    #[error("could not build the connection pool: {0}")]
    Pool(String),
    /// TLS could not be configured.
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
}
