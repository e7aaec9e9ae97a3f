//! Reading a handlers directory and building a [`HandlerSet`] from it.
//!
//! Two steps, so the reload loop can skip work: [`read_snapshot`] reads the
//! manifest and every component it names and fingerprints them;
//! [`build`] compiles only what the running set does not already have.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use sha2::{Digest, Sha256};

use super::manifest::{HandlerSpec, MANIFEST_FILE, Manifest, ManifestError};
use super::{HandlerSet, LoadedHandler, MethodTable, PathRoutes};
use crate::bindings::HandlerPre;
use crate::db::handler_pools::{HandlerDatabases, HandlerDb};
use crate::db::roles::RoleError;
use crate::runtime::budget::MemoryBudget;
use crate::runtime::{CompileError, GuestState, Limits, Runtime};

/// Everything turning a snapshot into servable handlers needs: the engine
/// to compile with, the database to give each handler its role and pool,
/// the memory budget, and the limits where a manifest is silent.
#[derive(Clone)]
pub struct Loader {
    /// The wasm engine.
    pub runtime: Arc<Runtime>,
    /// Handler roles and pools.
    pub databases: Arc<HandlerDatabases>,
    /// The memory budget.
    pub budget: Arc<MemoryBudget>,
    /// Limits where the manifest is silent.
    pub defaults: Limits,
}

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
    /// The handler's database role could not be set up.
    #[error(transparent)]
    Role(#[from] RoleError),
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
        "database-table-missing",
        "database-role",
    ];

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
            LoadError::Role(RoleError::NoSuchTable { .. }) => "database-table-missing",
            LoadError::Role(_) => "database-role",
        }
    }
}

/// A component's bytes and their hash.
#[derive(Clone)]
pub struct ComponentFile {
    /// The component.
    pub bytes: Arc<[u8]>,
    /// Hex SHA-256 of `bytes`.
    pub sha256: String,
}

/// Everything a handler set is built from, read at one moment.
pub struct Snapshot {
    /// The parsed manifest.
    pub manifest: Manifest,
    /// Components by the path the manifest gives.
    pub components: BTreeMap<PathBuf, ComponentFile>,
    /// Hash over the manifest text and every component's hash: equal
    /// fingerprints mean nothing to reload.
    pub fingerprint: String,
}

/// Reads the manifest of `dir` and every component it names.
pub async fn read_snapshot(dir: &Path) -> Result<Snapshot, LoadError> {
    let manifest_path = dir.join(MANIFEST_FILE);
    let text = read(&manifest_path).await?;
    let manifest_text = std::str::from_utf8(&text).map_err(|e| LoadError::Read {
        path: manifest_path.clone(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
    })?;
    let manifest = Manifest::parse(manifest_text)?;
    let mut fingerprint = Sha256::new();
    fingerprint.update(&text);
    let mut components = BTreeMap::new();
    for spec in manifest.handlers.values() {
        if components.contains_key(&spec.component) {
            continue;
        }
        let bytes = read(&dir.join(&spec.component)).await?;
        let sha256 = hex(&Sha256::digest(&bytes));
        fingerprint.update(spec.component.as_os_str().as_encoded_bytes());
        fingerprint.update(sha256.as_bytes());
        components.insert(
            spec.component.clone(),
            ComponentFile {
                bytes: bytes.into(),
                sha256,
            },
        );
    }
    Ok(Snapshot {
        manifest,
        components,
        fingerprint: hex(&fingerprint.finalize()),
    })
}

/// Loads every handler of `dir`; used at start.
pub async fn load_dir(loader: &Loader, dir: &Path) -> Result<HandlerSet, LoadError> {
    let snapshot = read_snapshot(dir).await?;
    build(loader, dir, &snapshot, None).await
}

/// Builds a handler set from `snapshot`, reusing what `previous` already has
/// compiled (same bytes); compiles the rest on blocking threads. Nothing of
/// the new set is used unless all of it loads.
pub async fn build(
    loader: &Loader,
    dir: &Path,
    snapshot: &Snapshot,
    previous: Option<&HandlerSet>,
) -> Result<HandlerSet, LoadError> {
    let mut set = HandlerSet {
        fingerprint: snapshot.fingerprint.clone(),
        ..HandlerSet::default()
    };
    let mut by_path: Vec<(String, MethodTable)> = Vec::new();
    for (name, spec) in &snapshot.manifest.handlers {
        let limits = loader.defaults.with(spec.limits);
        check_limits(loader, name, &limits)?;
        let file = &snapshot.components[&spec.component];
        // "points.wasm" for a file, "db:points@3" for a pushed version.
        let origin: Arc<str> = Arc::from(spec.component.display().to_string());
        let reusable = previous.and_then(|p| p.by_sha256(&file.sha256));
        let handler = match reusable {
            Some(old)
                if *old.name == **name
                    && old.limits == limits
                    && old.routes == spec.routes
                    && old.database == spec.database
                    && old.origin == origin =>
            {
                old.clone()
            }
            Some(old) => Arc::new(LoadedHandler {
                name: Arc::from(name.as_str()),
                limits,
                routes: spec.routes.clone(),
                loaded_at: SystemTime::now(),
                origin,
                database: spec.database.clone(),
                db: handler_db(loader, name, spec, &limits).await?,
                memory: Arc::new(loader.budget.for_handler(name)),
                ..LoadedHandler::clone(old)
            }),
            None => {
                let path = dir.join(&spec.component);
                let (pre, compile_time) = compile(&loader.runtime, name, &path, file).await?;
                Arc::new(LoadedHandler {
                    name: Arc::from(name.as_str()),
                    sha256: file.sha256.clone(),
                    size: file.bytes.len() as u64,
                    loaded_at: SystemTime::now(),
                    compile_time,
                    limits,
                    routes: spec.routes.clone(),
                    origin,
                    database: spec.database.clone(),
                    pre,
                    db: handler_db(loader, name, spec, &limits).await?,
                    memory: Arc::new(loader.budget.for_handler(name)),
                })
            }
        };
        for route in spec.parsed_routes(name)? {
            let index = match by_path.iter().position(|(p, _)| *p == route.path) {
                Some(index) => index,
                None => {
                    by_path.push((route.path.clone(), Vec::new()));
                    by_path.len() - 1
                }
            };
            let entry = &mut by_path[index];
            if entry.1.iter().any(|(m, _)| *m == route.method) {
                return Err(LoadError::RouteConflict {
                    handler: name.clone(),
                    route: route.to_string(),
                    reason: "the same method and path is routed twice".into(),
                });
            }
            entry.1.push((route.method.clone(), handler.clone()));
        }
        set.handlers.push(handler);
    }
    for (path, table) in by_path {
        let route = format!("{} {path}", table[0].0);
        let handler = table[0].1.name.to_string();
        let routes = PathRoutes {
            template: Arc::from(path.as_str()),
            methods: table,
        };
        set.router
            .insert(path, routes)
            .map_err(|err| LoadError::RouteConflict {
                handler,
                route,
                reason: err.to_string(),
            })?;
    }
    Ok(set)
}

/// Limits that could never be met on this host.
fn check_limits(loader: &Loader, name: &str, limits: &Limits) -> Result<(), LoadError> {
    if limits.memory_bytes > loader.runtime.max_memory_bytes() {
        return Err(LoadError::MemoryAboveCeiling {
            handler: name.to_owned(),
            asked: limits.memory_bytes,
            max: loader.runtime.max_memory_bytes(),
        });
    }
    if limits.memory_bytes as u64 > loader.budget.share_bytes() {
        return Err(LoadError::MemoryAboveBudget {
            handler: name.to_owned(),
            asked: limits.memory_bytes,
            share: loader.budget.share_bytes(),
        });
    }
    let pool = loader.databases.total_size();
    if !(1..=pool).contains(&limits.db_connections) {
        return Err(LoadError::DbShare {
            handler: name.to_owned(),
            asked: limits.db_connections,
            pool,
        });
    }
    Ok(())
}

/// The handler's role, set up for what its manifest grants, and its pool.
async fn handler_db(
    loader: &Loader,
    name: &str,
    spec: &HandlerSpec,
    limits: &Limits,
) -> Result<Arc<HandlerDb>, LoadError> {
    Ok(loader
        .databases
        .for_handler(name, &spec.database, limits.db_connections, limits.deadline)
        .await?)
}

/// Compiles and pre-links a component off the async workers; returns it
/// with the time it took.
async fn compile(
    runtime: &Arc<Runtime>,
    name: &str,
    path: &Path,
    file: &ComponentFile,
) -> Result<(HandlerPre<GuestState>, Duration), LoadError> {
    let started = Instant::now();
    let compiled = {
        let runtime = runtime.clone();
        let bytes = file.bytes.clone();
        tokio::task::spawn_blocking(move || runtime.prepare(&bytes))
            .await
            .map_err(|panicked| LoadError::CompilerFailed {
                handler: name.to_owned(),
                reason: panicked.to_string(),
            })?
    };
    let pre = compiled.map_err(|source| LoadError::Component {
        handler: name.to_owned(),
        path: path.to_owned(),
        source,
    })?;
    let compile_time = started.elapsed();
    tracing::info!(
        handler.name = name,
        handler.sha256 = %file.sha256,
        handler.compile_ms = compile_time.as_secs_f64() * 1e3,
        "handler compiled"
    );
    Ok((pre, compile_time))
}

async fn read(path: &Path) -> Result<Vec<u8>, LoadError> {
    tokio::fs::read(path)
        .await
        .map_err(|source| LoadError::Read {
            path: path.to_owned(),
            source,
        })
}

/// Lower-case hex of `bytes` (sha256 digests).
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
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
            LoadError::Role(RoleError::NoSuchTable {
                handler: "h".into(),
                table: "t".into(),
            }),
            LoadError::Role(RoleError::Unavailable("down".into())),
        ];
        let reasons: std::collections::BTreeSet<_> = errors.iter().map(LoadError::reason).collect();
        let listed: std::collections::BTreeSet<_> = LoadError::REASONS.iter().copied().collect();
        assert_eq!(reasons, listed);
    }
}
