//! Reading a handlers directory into a [`Snapshot`]: the manifest and every
//! component it names, fingerprinted so the reload loop can tell when
//! nothing changed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use geofn_contract::access::DatabaseAccess;
use geofn_contract::limits::LimitOverrides;
use geofn_contract::manifest::{HandlerSpec, MANIFEST_FILE, Manifest};
use sha2::{Digest, Sha256};

use geofn_oci::reference::SCHEME;
use geofn_oci::{OciError, OciRef, Pulled, Registry};

use crate::error::LoadError;
use crate::loader::Loader;

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

impl Snapshot {
    /// Puts a pushed version of `name` in the directory's place: its
    /// component under `key`, its routes, limits and database access as
    /// pushed (empty: the component's own), the component's own `[auth]`,
    /// and `geofn.toml`'s variable values, outbound list and schedules for `name`,
    /// which are the operator's and hold for every version pushed under
    /// that name.
    pub fn put_pushed(
        &mut self,
        name: &str,
        key: PathBuf,
        file: ComponentFile,
        routes: Vec<String>,
        limits: LimitOverrides,
        database: DatabaseAccess,
    ) {
        self.components.insert(key.clone(), file);
        let operator = self.manifest.handlers.get(name);
        let variables = operator
            .map(|spec| spec.variables.clone())
            .unwrap_or_default();
        let outbound = operator.and_then(|spec| spec.outbound.clone());
        let schedules = operator
            .map(|spec| spec.schedules.clone())
            .unwrap_or_default();
        let spec = HandlerSpec {
            component: key,
            routes,
            limits,
            database: (!database.is_empty()).then_some(database),
            auth: None,
            variables,
            outbound,
            schedules,
        };
        self.manifest.handlers.insert(name.to_owned(), spec);
    }
}

/// Reads the manifest of `dir` and every component it names: a file of
/// the directory, or an artifact `oci://…@sha256:…` pulled from the
/// loader's registry (pinned: a tag, which may move, is refused). The
/// variables directory's state is part of the fingerprint: changing a
/// value reloads.
pub async fn read_snapshot(dir: &Path, loader: &Loader) -> Result<Snapshot, LoadError> {
    let registry = &*loader.registry;
    // The directory's part in one blocking call: reading and hashing a few
    // megabytes on an async worker would hold up requests, and a round trip
    // through the blocking pool per file queues the reload behind every
    // request task of a loaded host (the swap's tail, measured).
    let local = {
        let owned = dir.to_owned();
        tokio::task::spawn_blocking(move || read_local(&owned))
            .await
            .map_err(|panicked| LoadError::Read {
                path: dir.join(MANIFEST_FILE),
                source: std::io::Error::other(panicked.to_string()),
            })??
    };
    let Local {
        text,
        manifest,
        mut files,
    } = local;
    let mut fingerprint = Sha256::new();
    fingerprint.update(&text);
    let mut components = BTreeMap::new();
    for (name, spec) in &manifest.handlers {
        if components.contains_key(&spec.component) {
            continue;
        }
        let file = match files.remove(&spec.component) {
            Some(file) => file,
            None => {
                let reference = spec.component.to_string_lossy();
                let pulled =
                    pull_pinned(registry, &reference)
                        .await
                        .map_err(|source| LoadError::Oci {
                            handler: name.clone(),
                            source,
                        })?;
                ComponentFile {
                    bytes: pulled.bytes,
                    sha256: pulled.sha256,
                }
            }
        };
        fingerprint.update(spec.component.as_os_str().as_encoded_bytes());
        fingerprint.update(file.sha256.as_bytes());
        components.insert(spec.component.clone(), file);
    }
    if let Some(variables) = loader.variables.fingerprint().await {
        fingerprint.update(variables.as_bytes());
    }
    Ok(Snapshot {
        manifest,
        components,
        fingerprint: hex::encode(fingerprint.finalize()),
    })
}

/// What the directory itself holds: the manifest's text, the manifest, and
/// every component file it names (not the `oci://` ones), hashed.
struct Local {
    text: Vec<u8>,
    manifest: Manifest,
    files: BTreeMap<PathBuf, ComponentFile>,
}

fn read_local(dir: &Path) -> Result<Local, LoadError> {
    let manifest_path = dir.join(MANIFEST_FILE);
    let text = read(&manifest_path)?;
    let manifest_text = std::str::from_utf8(&text).map_err(|e| LoadError::Read {
        path: manifest_path.clone(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
    })?;
    let manifest = Manifest::parse(manifest_text)?;
    let mut files = BTreeMap::new();
    for spec in manifest.handlers.values() {
        let local = spec
            .component
            .to_str()
            .is_none_or(|c| !c.starts_with(SCHEME));
        if !local || files.contains_key(&spec.component) {
            continue;
        }
        let bytes = read(&dir.join(&spec.component))?;
        let sha256 = hex::encode(Sha256::digest(&bytes));
        files.insert(
            spec.component.clone(),
            ComponentFile {
                bytes: Arc::from(bytes),
                sha256,
            },
        );
    }
    Ok(Local {
        text,
        manifest,
        files,
    })
}

/// The component a pinned reference names.
async fn pull_pinned(registry: &Registry, reference: &str) -> Result<Pulled, OciError> {
    let reference = OciRef::parse(reference)?;
    if !reference.is_pinned() {
        return Err(OciError::Reference(format!(
            "{reference}: a handlers directory names artifacts by digest (oci://…@sha256:…), \
             never by a tag that may move; `geofn publish` prints the digest"
        )));
    }
    registry.pull(&reference).await
}

fn read(path: &Path) -> Result<Vec<u8>, LoadError> {
    std::fs::read(path).map_err(|source| LoadError::Read {
        path: path.to_owned(),
        source,
    })
}
