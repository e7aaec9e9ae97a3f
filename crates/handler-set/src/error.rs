//! Why a handler set could not be loaded, with a stable label per reason
//! for metrics and logs.

use std::path::PathBuf;

use geofn_contract::embedded::ArtifactError;
use geofn_contract::manifest::{MANIFEST_FILE, ManifestError};
use geofn_db::handler_databases::PrepareError;
use geofn_db::handler_migrations::MigrationError;
use geofn_db::roles::RoleError;
use geofn_oci::OciError;
use geofn_runtime::CompileError;

use crate::variables::VariableError;

/// Why a handlers directory could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A file could not be read (missing manifest or component).
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The manifest is invalid.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// A component named by the manifest was refused.
    #[error("handler {handler:?} ({path}): {source}")]
    Component {
        /// Handler name.
        handler: String,
        /// Component file.
        path: PathBuf,
        /// Why.
        source: CompileError,
    },
    /// Two routes overlap.
    #[error("handler {handler:?}: route {route} conflicts with another route: {reason}")]
    RouteConflict {
        /// Handler name.
        handler: String,
        /// The route.
        route: String,
        /// The explanation.
        reason: String,
    },
    /// A handler's memory limit does not fit its share of the budget: it
    /// could never run.
    #[error(
        "handler {handler:?} asks for {asked} bytes of memory per instance; one handler may \
         hold at most {share} bytes of this host's memory budget (--memory-budget-mib)"
    )]
    MemoryAboveBudget {
        /// Handler name.
        handler: String,
        /// Requested limit.
        asked: usize,
        /// One handler's share of the budget.
        share: u64,
    },
    /// A handler's share of the database pool is zero or beyond the pool.
    #[error(
        "handler {handler:?} asks for {asked} database connections; it needs at least 1, and \
         this host has {pool} (--pool-size)"
    )]
    DbShare {
        /// Handler name.
        handler: String,
        /// Requested share.
        asked: usize,
        /// The whole pool.
        pool: usize,
    },
    /// The compiler itself failed (panicked) on a component.
    #[error("handler {handler:?}: the compiler failed: {reason}")]
    CompilerFailed {
        /// Handler name.
        handler: String,
        /// What the compiler task reported.
        reason: String,
    },
    /// The component's own manifest is unreadable or invalid.
    #[error("handler {handler:?}: {source}")]
    Artifact {
        /// Handler name.
        handler: String,
        /// Why.
        source: ArtifactError,
    },
    /// An `[auth]` policy names a route the handler does not serve.
    #[error(
        "handler {handler:?}: [auth] names {route:?}, which is not one of its routes (a policy \
         must name routes exactly as they are written)"
    )]
    AuthRoute {
        /// Handler name.
        handler: String,
        /// The route as the policy wrote it.
        route: String,
    },
    /// A component named by an OCI reference could not be had.
    #[error("handler {handler:?}: {source}")]
    Oci {
        /// Handler name.
        handler: String,
        /// Why.
        source: OciError,
    },
    /// A variable it declares has no usable value.
    #[error("handler {handler:?}: {source}")]
    Variable {
        /// Handler name.
        handler: String,
        /// Why.
        source: VariableError,
    },
    /// A schedule that cannot run.
    #[error("handler {handler:?}: {why}")]
    Schedule {
        /// Handler name.
        handler: String,
        /// What is wrong.
        why: String,
    },
    /// The database could not be made ready: a role, a grant, a migration.
    #[error(transparent)]
    Database(#[from] PrepareError),
    /// A handler asks for more memory than the host's ceiling.
    #[error(
        "handler {handler:?} asks for {asked} bytes of memory; this host allows at most {max} \
         (--max-memory-mib)"
    )]
    MemoryAboveCeiling {
        /// Handler name.
        handler: String,
        /// Requested limit.
        asked: usize,
        /// Host ceiling.
        max: usize,
    },
}

impl LoadError {
    /// Every label [`reason`](Self::reason) can give: `/metrics` lists each
    /// at zero from start.
    pub const REASONS: &'static [&'static str] = &[
        "not-wasm",
        "not-a-component",
        "invalid-component",
        "wrong-world",
        "manifest-missing",
        "component-missing",
        "unreadable",
        "manifest-invalid",
        "route-conflict",
        "memory-above-ceiling",
        "memory-above-budget",
        "db-share-invalid",
        "compiler-failed",
        "artifact-invalid",
        "auth-route-unknown",
        "oci",
        "database-table-missing",
        "database-role",
        "migration-changed",
        "migration-failed",
        "variable-missing",
        "variable-invalid",
        "schedule-invalid",
    ];

    /// Whether the cause may pass without anyone changing the files: the
    /// database unreachable or refusing the host's own role and grant
    /// work, a registry, a file read while it was being replaced. Not the
    /// handler's own migration SQL failing: retrying that would run a
    /// hostile (or merely slow) migration again and again, holding the
    /// reload loop each time.
    pub fn may_pass(&self) -> bool {
        match self {
            LoadError::Read { source, .. } => source.kind() != std::io::ErrorKind::NotFound,
            LoadError::Oci { .. } => true,
            LoadError::Database(PrepareError::Role(
                RoleError::Unavailable(_) | RoleError::Query { .. },
            )) => true,
            LoadError::Database(PrepareError::Migration(MigrationError::Database { .. })) => true,
            _ => false,
        }
    }

    /// A short, stable label for metrics and logs.
    pub fn reason(&self) -> &'static str {
        match self {
            LoadError::Read { path, source } => {
                let manifest = path.file_name().is_some_and(|n| n == MANIFEST_FILE);
                match (manifest, source.kind()) {
                    (true, std::io::ErrorKind::NotFound) => "manifest-missing",
                    (false, std::io::ErrorKind::NotFound) => "component-missing",
                    _ => "unreadable",
                }
            }
            LoadError::Manifest(_) => "manifest-invalid",
            LoadError::Component { source, .. } => source.reason(),
            LoadError::RouteConflict { .. } => "route-conflict",
            LoadError::MemoryAboveCeiling { .. } => "memory-above-ceiling",
            LoadError::MemoryAboveBudget { .. } => "memory-above-budget",
            LoadError::DbShare { .. } => "db-share-invalid",
            LoadError::CompilerFailed { .. } => "compiler-failed",
            LoadError::Artifact { .. } => "artifact-invalid",
            LoadError::AuthRoute { .. } => "auth-route-unknown",
            LoadError::Oci { .. } => "oci",
            LoadError::Variable { source, .. } => source.reason(),
            LoadError::Schedule { .. } => "schedule-invalid",
            LoadError::Database(PrepareError::Role(RoleError::NoSuchTable { .. })) => {
                "database-table-missing"
            }
            LoadError::Database(PrepareError::Role(_)) => "database-role",
            LoadError::Database(PrepareError::Migration(MigrationError::Changed { .. })) => {
                "migration-changed"
            }
            LoadError::Database(PrepareError::Migration(_)) => "migration-failed",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_is_listed() {
        let io = |path: &str, kind| LoadError::Read {
            path: PathBuf::from(path),
            source: std::io::Error::from(kind),
        };
        let component = |source| LoadError::Component {
            handler: "h".into(),
            path: PathBuf::from("h.wasm"),
            source,
        };
        let errors = [
            io("dir/geofn.toml", std::io::ErrorKind::NotFound),
            io("dir/h.wasm", std::io::ErrorKind::NotFound),
            io("dir/h.wasm", std::io::ErrorKind::PermissionDenied),
            LoadError::Manifest(ManifestError::NoRoutes("h".into())),
            component(CompileError::NotWasm),
            component(CompileError::NotComponent),
            component(CompileError::Invalid(wasmtime::Error::msg("x"))),
            component(CompileError::WrongWorld(wasmtime::Error::msg("x"))),
            LoadError::RouteConflict {
                handler: "h".into(),
                route: "GET /".into(),
                reason: "twice".into(),
            },
            LoadError::MemoryAboveCeiling {
                handler: "h".into(),
                asked: 2,
                max: 1,
            },
            LoadError::MemoryAboveBudget {
                handler: "h".into(),
                asked: 2,
                share: 1,
            },
            LoadError::DbShare {
                handler: "h".into(),
                asked: 0,
                pool: 1,
            },
            LoadError::CompilerFailed {
                handler: "h".into(),
                reason: "panic".into(),
            },
            LoadError::Artifact {
                handler: "h".into(),
                source: ArtifactError::Invalid("x".into()),
            },
            LoadError::AuthRoute {
                handler: "h".into(),
                route: "GET /x".into(),
            },
            LoadError::Oci {
                handler: "h".into(),
                source: OciError::NotFound("x".into()),
            },
            LoadError::Variable {
                handler: "h".into(),
                source: VariableError::Undeclared("v".into()),
            },
            LoadError::Schedule {
                handler: "h".into(),
                why: "x".into(),
            },
            LoadError::Variable {
                handler: "h".into(),
                source: VariableError::Missing {
                    handler: "h".into(),
                    name: "v".into(),
                    env: "GEOFN_VAR_H_V".into(),
                },
            },
            LoadError::Database(PrepareError::Role(RoleError::NoSuchTable {
                handler: "h".into(),
                table: "t".into(),
            })),
            LoadError::Database(PrepareError::Role(RoleError::Unavailable("down".into()))),
            LoadError::Database(PrepareError::Migration(MigrationError::Changed {
                handler: "h".into(),
                id: "1".into(),
                applied: "a".into(),
                now: "b".into(),
            })),
            LoadError::Database(PrepareError::Migration(MigrationError::Failed {
                handler: "h".into(),
                id: "1".into(),
                message: "no".into(),
            })),
        ];
        let reasons: std::collections::BTreeSet<_> = errors.iter().map(LoadError::reason).collect();
        let listed: std::collections::BTreeSet<_> = LoadError::REASONS.iter().copied().collect();
        assert_eq!(reasons, listed);
    }

    #[test]
    fn only_faults_outside_the_handler_may_pass() {
        let migration = |source| LoadError::Database(PrepareError::Migration(source));
        assert!(
            migration(MigrationError::Database {
                handler: "h".into(),
                message: "connecting as its role: refused".into(),
            })
            .may_pass()
        );
        assert!(
            !migration(MigrationError::Failed {
                handler: "h".into(),
                id: "0001".into(),
                message: "canceling statement due to statement timeout".into(),
            })
            .may_pass()
        );
        assert!(!LoadError::Manifest(ManifestError::NoRoutes("h".into())).may_pass());
        let read = |kind| LoadError::Read {
            path: PathBuf::from("dir/h.wasm"),
            source: std::io::Error::from(kind),
        };
        assert!(read(std::io::ErrorKind::PermissionDenied).may_pass());
        assert!(!read(std::io::ErrorKind::NotFound).may_pass());
    }
}
