//! Why a private cluster could not be had.

use std::path::PathBuf;

/// Why the cluster could not be had.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// No `initdb`/`pg_ctl` found.
    #[error(
        "PostgreSQL server binaries not found (looked in $GEOFN_PG_BIN, /usr/lib/postgresql/*/bin \
         and PATH); install postgresql-15 and postgresql-15-postgis-3"
    )]
    NoBinaries,
    /// Running as root but there is no `postgres` account to run PostgreSQL as.
    #[error("running as root, but there is no `postgres` user to run PostgreSQL as")]
    NoSystemUser,
    /// The `postgres` account cannot reach the data folder.
    #[error(
        "the postgres user cannot reach {0}: its parent folders must be traversable by others \
         (chmod o+x), or choose --data-dir under /var/lib or /tmp"
    )]
    Unreachable(PathBuf),
    /// A command failed.
    #[error("{command} failed: {detail}")]
    Command {
        /// What ran.
        command: String,
        /// Its stderr, or the spawn error.
        detail: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}
