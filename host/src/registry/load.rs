//! Reading a handlers directory: manifest, components, compilation.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use sha2::{Digest, Sha256};

use super::manifest::{MANIFEST_FILE, Manifest, ManifestError};
use super::{HandlerSet, LoadedHandler, MethodTable};
use crate::runtime::{CompileError, Limits, Runtime};

/// Why a handlers directory could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The manifest could not be read.
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
        /// matchit's explanation.
        reason: String,
    },
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

/// Loads every handler of `dir` and builds the route table.
/// Compilation runs on blocking threads; nothing is served from a set that
/// failed to load completely.
pub async fn load_dir(
    runtime: &Arc<Runtime>,
    dir: &Path,
    defaults: Limits,
) -> Result<HandlerSet, LoadError> {
    let manifest_path = dir.join(MANIFEST_FILE);
    let text = read(&manifest_path).await?;
    let text = String::from_utf8(text).map_err(|e| LoadError::Read {
        path: manifest_path.clone(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
    })?;
    let manifest = Manifest::parse(&text)?;

    let mut set = HandlerSet::default();
    let mut by_path: Vec<(String, MethodTable)> = Vec::new();
    for (name, spec) in &manifest.handlers {
        let limits = defaults.with(spec.limits);
        if limits.memory_bytes > runtime.max_memory_bytes() {
            return Err(LoadError::MemoryAboveCeiling {
                handler: name.clone(),
                asked: limits.memory_bytes,
                max: runtime.max_memory_bytes(),
            });
        }
        let path = dir.join(&spec.component);
        let bytes = read(&path).await?;
        let started = Instant::now();
        let compiled = {
            let runtime = runtime.clone();
            let bytes = bytes.clone();
            tokio::task::spawn_blocking(move || runtime.prepare(&bytes))
                .await
                .expect("compilation task panicked")
        };
        let pre = compiled.map_err(|source| LoadError::Component {
            handler: name.clone(),
            path: path.clone(),
            source,
        })?;
        let handler = Arc::new(LoadedHandler {
            name: Arc::from(name.as_str()),
            sha256: hex(&Sha256::digest(&bytes)),
            size: bytes.len() as u64,
            loaded_at: SystemTime::now(),
            compile_time: started.elapsed(),
            limits,
            routes: spec.routes.clone(),
            pre,
        });
        tracing::info!(
            handler.name = name,
            handler.sha256 = %handler.sha256,
            handler.compile_ms = handler.compile_time.as_millis() as u64,
            "handler compiled"
        );
        for route in spec.parsed_routes(name)? {
            let entry = match by_path.iter_mut().find(|(p, _)| *p == route.path) {
                Some(entry) => entry,
                None => {
                    by_path.push((route.path.clone(), Vec::new()));
                    by_path.last_mut().expect("just pushed")
                }
            };
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
        set.router
            .insert(path, table)
            .map_err(|err| LoadError::RouteConflict {
                handler,
                route,
                reason: err.to_string(),
            })?;
    }
    Ok(set)
}

async fn read(path: &Path) -> Result<Vec<u8>, LoadError> {
    tokio::fs::read(path)
        .await
        .map_err(|source| LoadError::Read {
            path: path.to_owned(),
            source,
        })
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}
