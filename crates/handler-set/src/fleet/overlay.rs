//! The active stored handlers laid over a handlers-directory snapshot.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use deadpool_postgres::Pool;
use sha2::{Digest, Sha256};

use geofn_db::secret::Secret;
use geofn_oci::{OciRef, Registry};

use super::signed;
use super::store::{self, StoreError};
use crate::snapshot::{ComponentFile, Snapshot};

/// Components kept in memory by hash, so a reconcile reads bytes from the
/// database only for versions this replica has not seen.
const CACHED_COMPONENTS: usize = 32;

/// The database side of the handler set.
pub struct Fleet {
    pool: Pool,
    secret: Secret,
    cache: Mutex<HashMap<String, Arc<[u8]>>>,
    registry: Arc<Registry>,
}

/// The key a stored version has among a snapshot's components.
pub fn component_key(name: &str, version: i32) -> PathBuf {
    PathBuf::from(format!("db:{name}@{version}"))
}

impl Fleet {
    /// A fleet source over `pool`, signing its notifications with `secret`,
    /// pulling versions pushed by reference from `registry`.
    pub fn new(pool: Pool, secret: Secret, registry: Arc<Registry>) -> Self {
        Self {
            pool,
            secret,
            cache: Mutex::default(),
            registry,
        }
    }

    /// The signed notification that `handler` changed.
    pub fn notification(&self, handler: &str) -> String {
        signed::notification(&self.secret, handler)
    }

    /// The secret notifications are verified with.
    pub fn secret(&self) -> &Secret {
        &self.secret
    }

    /// Replaces or adds, in `snapshot`, every handler with an active
    /// stored version, and refreshes the fingerprint to include them.
    pub async fn overlay(&self, snapshot: &mut Snapshot) -> Result<(), StoreError> {
        let active = store::active(&self.pool).await?;
        if active.is_empty() {
            return Ok(());
        }
        let mut fingerprint = Sha256::new();
        fingerprint.update(snapshot.fingerprint.as_bytes());
        for handler in active {
            let bytes = match &handler.source {
                Some(source) => self.pull(source, &handler.sha256).await?,
                None => {
                    self.bytes(&handler.name, handler.version, &handler.sha256)
                        .await?
                }
            };
            let key = component_key(&handler.name, handler.version);
            fingerprint.update(key.as_os_str().as_encoded_bytes());
            fingerprint.update(handler.sha256.as_bytes());
            fingerprint.update(handler.routes.join("\n").as_bytes());
            fingerprint.update(serde_json::to_vec(&handler.limits).unwrap_or_default());
            fingerprint.update(serde_json::to_vec(&handler.database).unwrap_or_default());
            snapshot.put_pushed(
                &handler.name,
                key,
                ComponentFile {
                    bytes,
                    sha256: handler.sha256,
                },
                handler.routes,
                handler.limits,
                handler.database,
            );
        }
        snapshot.fingerprint = hex::encode(fingerprint.finalize());
        Ok(())
    }

    /// A version pushed by reference: the pinned artifact, from the registry
    /// (or the disk, once pulled), and it must be the component pushed.
    async fn pull(&self, source: &str, sha256: &str) -> Result<Arc<[u8]>, StoreError> {
        let failed = |why: String| StoreError::Pull(format!("{source}: {why}"));
        let reference = OciRef::parse(source).map_err(|e| failed(e.to_string()))?;
        let pulled = self
            .registry
            .pull(&reference)
            .await
            .map_err(|e| failed(e.to_string()))?;
        if pulled.sha256 != sha256 {
            return Err(failed(format!(
                "its component hashes to {}, not the {sha256} pushed",
                pulled.sha256
            )));
        }
        Ok(pulled.bytes)
    }

    async fn bytes(&self, name: &str, version: i32, sha256: &str) -> Result<Arc<[u8]>, StoreError> {
        if let Some(bytes) = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(sha256)
        {
            return Ok(bytes.clone());
        }
        let bytes: Arc<[u8]> = store::component(&self.pool, name, version).await?.into();
        let actual = hex::encode(Sha256::digest(&bytes));
        if actual != sha256 {
            return Err(StoreError::NoSuchVersion(format!(
                "{name} version {version} is stored with sha256 {sha256} but its bytes hash to {actual}"
            )));
        }
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if cache.len() >= CACHED_COMPONENTS {
            cache.clear();
        }
        cache.insert(sha256.to_owned(), bytes.clone());
        Ok(bytes)
    }
}
