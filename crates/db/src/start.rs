//! Why the host's database could not be made ready at start.

use crate::tls;

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
