//! A registry, as the host and `geofn publish` use it: a tag resolved once
//! to the digest of its manifest; a pinned artifact pulled with its
//! manifest checked against the digest, its layout checked, its size
//! checked before a byte of the component is read, the component verified
//! while it streams and cut off at the size limit; kept on disk by digest
//! so a replica pulls each version once; published in the CNCF layout.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use futures_util::TryStreamExt;
use geofn_telemetry::metrics as m;
use oci_client::client::{Certificate, CertificateEncoding, ClientConfig, ClientProtocol};
use oci_client::manifest::OciDescriptor;
use oci_client::{Client, RegistryOperation};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::credentials;
use crate::error::OciError;
use crate::layout::{self, MANIFEST, WASM};
use crate::reference::OciRef;

/// How the host reaches registries.
#[derive(Debug, Clone, Default)]
pub struct RegistrySettings {
    /// `host:port`s spoken to over plain HTTP (a lab registry); every other
    /// registry over HTTPS.
    pub insecure: Vec<String>,
    /// A PEM CA bundle trusted besides the system's roots.
    pub ca_file: Option<PathBuf>,
    /// Where pulled components are kept, by digest (`None`: not kept).
    pub blob_dir: Option<PathBuf>,
    /// Largest component accepted.
    pub max_bytes: u64,
}

/// A component pulled from a registry.
#[derive(Debug, Clone)]
pub struct Pulled {
    /// Its bytes.
    pub bytes: Arc<[u8]>,
    /// Hex SHA-256 of them (the layer's digest).
    pub sha256: String,
    /// Whether they came from the disk cache.
    pub cached: bool,
}

/// Registries, as this host speaks to them.
pub struct Registry {
    client: Client,
    blob_dir: Option<PathBuf>,
    max_bytes: u64,
    /// Artifacts pulled and verified lately, by manifest digest: a digest
    /// names the same bytes for ever, so they are not asked for again.
    recent: Mutex<HashMap<String, Pulled>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("blob_dir", &self.blob_dir)
            .field("max_bytes", &self.max_bytes)
            .finish_non_exhaustive()
    }
}

impl Registry {
    /// A client with `settings`.
    pub fn new(settings: &RegistrySettings) -> Result<Self, OciError> {
        let mut config = ClientConfig {
            protocol: if settings.insecure.is_empty() {
                ClientProtocol::Https
            } else {
                ClientProtocol::HttpsExcept(settings.insecure.clone())
            },
            connect_timeout: Some(std::time::Duration::from_secs(10)),
            read_timeout: Some(std::time::Duration::from_secs(60)),
            user_agent: concat!("geofn/", env!("CARGO_PKG_VERSION")),
            ..ClientConfig::default()
        };
        if let Some(file) = &settings.ca_file {
            let data = std::fs::read(file)
                .map_err(|e| OciError::Registry(format!("{}: {e}", file.display())))?;
            config.extra_root_certificates.push(Certificate {
                encoding: CertificateEncoding::Pem,
                data,
            });
        }
        if let Some(dir) = &settings.blob_dir {
            create_private_dir(dir)
                .map_err(|e| OciError::Registry(format!("{}: {e}", dir.display())))?;
        }
        Ok(Self {
            client: Client::new(config),
            blob_dir: settings.blob_dir.clone(),
            max_bytes: settings.max_bytes,
            recent: Mutex::default(),
        })
    }

    /// `reference` pinned: its tag resolved to its manifest's digest, once,
    /// the manifest checked to be a component artifact.
    pub async fn resolve(&self, reference: &OciRef) -> Result<OciRef, OciError> {
        if reference.is_pinned() {
            return Ok(reference.clone());
        }
        let resolved: Result<OciRef, OciError> = async {
            let manifest = self.manifest(reference).await?;
            layout::component_layer(&manifest)?;
            Ok(reference.pinned(&layout::digest(&manifest)))
        }
        .await;
        if let Err(err) = &resolved {
            metrics::counter!(m::OCI_PULLS, "result" => err.label()).increment(1);
        }
        resolved
    }

    /// The component `pinned` names.
    pub async fn pull(&self, pinned: &OciRef) -> Result<Pulled, OciError> {
        if let Some(known) = pinned
            .digest()
            .and_then(|digest| self.recent().get(digest).cloned())
        {
            return Ok(Pulled {
                cached: true,
                ..known
            });
        }
        let result = self.pull_checked(pinned).await;
        if let (Ok(pulled), Some(digest)) = (&result, pinned.digest()) {
            let mut recent = self.recent();
            let held: usize = recent.values().map(|p| p.bytes.len()).sum();
            if held + pulled.bytes.len() > RECENT_BYTES {
                // The versions served hold their own references to these
                // bytes; what is dropped here is only what nothing serves.
                recent.clear();
            }
            recent.insert(digest.to_owned(), pulled.clone());
        }
        let outcome = match &result {
            Ok(pulled) if pulled.cached => "cached",
            Ok(_) => "pulled",
            Err(err) => err.label(),
        };
        metrics::counter!(m::OCI_PULLS, "result" => outcome).increment(1);
        result
    }

    async fn pull_checked(&self, pinned: &OciRef) -> Result<Pulled, OciError> {
        let digest = pinned
            .digest()
            .ok_or_else(|| OciError::Reference(format!("{pinned} is not pinned to a digest")))?;
        let manifest = self.pinned_manifest(pinned, digest).await?;
        let layer = layout::component_layer(&manifest)?;
        if layer.size > self.max_bytes {
            return Err(OciError::TooLarge {
                size: layer.size,
                max: self.max_bytes,
            });
        }
        let sha256 = layer.digest.trim_start_matches("sha256:").to_owned();
        if let Some(bytes) = self.cached(&sha256) {
            return Ok(Pulled {
                bytes: bytes.into(),
                sha256,
                cached: true,
            });
        }
        let descriptor = OciDescriptor {
            media_type: WASM.to_owned(),
            digest: layer.digest.clone(),
            size: layer.size as i64,
            ..OciDescriptor::default()
        };
        let mut stream = self
            .client
            .pull_blob_stream(pinned.client_reference(), &descriptor)
            .await
            .map_err(OciError::from_client)?;
        let mut bytes = Vec::with_capacity(layer.size.min(self.max_bytes) as usize);
        // The stream verifies the digest as it goes and fails at its end
        // if the bytes were not the ones named.
        while let Some(chunk) = stream.try_next().await.map_err(|e| {
            if e.to_string().to_ascii_lowercase().contains("digest") {
                OciError::DigestMismatch(e.to_string())
            } else {
                OciError::Unreachable(e.to_string())
            }
        })? {
            if (bytes.len() + chunk.len()) as u64 > self.max_bytes.min(layer.size) {
                return Err(OciError::TooLarge {
                    size: (bytes.len() + chunk.len()) as u64,
                    max: self.max_bytes.min(layer.size),
                });
            }
            bytes.extend_from_slice(&chunk);
        }
        if layout::digest(&bytes) != layer.digest {
            return Err(OciError::DigestMismatch(format!(
                "the component of {pinned} hashes to {}",
                layout::digest(&bytes)
            )));
        }
        self.keep(&sha256, &bytes);
        Ok(Pulled {
            bytes: bytes.into(),
            sha256,
            cached: false,
        })
    }

    /// Pushes `component` to `reference` (a tag) in the CNCF Wasm layout;
    /// the reference pinned to the manifest's digest.
    pub async fn publish(&self, reference: &OciRef, component: &[u8]) -> Result<OciRef, OciError> {
        if component.len() as u64 > self.max_bytes {
            return Err(OciError::TooLarge {
                size: component.len() as u64,
                max: self.max_bytes,
            });
        }
        let image = reference.client_reference();
        let auth = credentials::for_registry(reference.registry());
        self.client
            .auth(image, &auth, RegistryOperation::Push)
            .await
            .map_err(OciError::from_client)?;
        let created = OffsetDateTime::now_utc()
            .format(&Rfc3339)
            .unwrap_or_default();
        let config = layout::config(component, &created);
        let manifest = layout::manifest(component, &config, &created);
        for blob in [component, &config[..]] {
            self.client
                .push_blob(image, blob.to_vec(), &layout::digest(blob))
                .await
                .map_err(OciError::from_client)?;
        }
        self.client
            .push_manifest_raw(image, manifest.clone(), http_header(MANIFEST))
            .await
            .map_err(OciError::from_client)?;
        Ok(reference.pinned(&layout::digest(&manifest)))
    }

    /// The manifest `digest` names: kept on disk like the components it
    /// names (so a replica that restarts while its registry is down still
    /// has what it served), else pulled and checked against the digest.
    async fn pinned_manifest(&self, pinned: &OciRef, digest: &str) -> Result<Vec<u8>, OciError> {
        let hex = digest.trim_start_matches("sha256:");
        if let Some(kept) = self.cached(hex) {
            return Ok(kept);
        }
        let manifest = self.manifest(pinned).await?;
        if layout::digest(&manifest) != digest {
            return Err(OciError::DigestMismatch(format!(
                "the manifest of {pinned} hashes to {}",
                layout::digest(&manifest)
            )));
        }
        // Kept only once its component is accepted too (a manifest naming
        // an oversized or foreign layer is not worth keeping).
        if layout::component_layer(&manifest).is_ok_and(|layer| layer.size <= self.max_bytes) {
            self.keep(hex, &manifest);
        }
        Ok(manifest)
    }

    /// The raw manifest `reference` names.
    async fn manifest(&self, reference: &OciRef) -> Result<Vec<u8>, OciError> {
        let auth = credentials::for_registry(reference.registry());
        let (bytes, _digest) = self
            .client
            .pull_manifest_raw(reference.client_reference(), &auth, &[MANIFEST])
            .await
            .map_err(|err| match OciError::from_client(err) {
                OciError::NotFound(_) => OciError::NotFound(reference.to_string()),
                other => other,
            })?;
        if bytes.len() > MAX_MANIFEST_BYTES {
            return Err(OciError::Layout("the manifest is too large".into()));
        }
        Ok(bytes.to_vec())
    }

    fn recent(&self) -> std::sync::MutexGuard<'_, HashMap<String, Pulled>> {
        self.recent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn cached(&self, sha256: &str) -> Option<Vec<u8>> {
        let bytes = std::fs::read(self.blob_dir.as_ref()?.join(sha256)).ok()?;
        // A file that is not what its name says is not used (nor trusted).
        (layout::digest(&bytes) == format!("sha256:{sha256}")).then_some(bytes)
    }

    fn keep(&self, sha256: &str, bytes: &[u8]) {
        let Some(dir) = &self.blob_dir else { return };
        let temporary = dir.join(format!(".{sha256}.tmp"));
        let kept = std::fs::write(&temporary, bytes)
            .and_then(|()| std::fs::rename(&temporary, dir.join(sha256)));
        if let Err(err) = kept {
            tracing::warn!(dir = %dir.display(), error = %err, "a pulled component could not be kept");
        }
    }
}

/// Bytes of artifacts kept in memory after their pull (beyond it, the
/// disk cache answers, at the price of re-hashing).
const RECENT_BYTES: usize = 128 << 20;
/// Largest manifest read: a component artifact's is a few hundred bytes.
const MAX_MANIFEST_BYTES: usize = 1 << 20;

fn http_header(value: &'static str) -> http::HeaderValue {
    http::HeaderValue::from_static(value)
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}
