//! How the host reaches OCI registries: HTTPS with the system's roots
//! (plus an optional CA) everywhere but the plain-HTTP registries named,
//! and where pulled components are kept.

use std::path::{Path, PathBuf};

use clap::Args;
use geofn_handler_set::fleet::store::MAX_COMPONENT_BYTES;
use geofn_oci::RegistrySettings;

/// Registry settings, shared by `serve`, `dev` and `publish`.
#[derive(Debug, Clone, Default, Args)]
pub struct OciArgs {
    /// Registries (host:port) spoken to over plain HTTP, for a lab
    /// network; every other registry is spoken to over HTTPS.
    #[arg(
        long = "oci-insecure-registries",
        env = "GEOFN_OCI_INSECURE_REGISTRIES",
        value_delimiter = ','
    )]
    pub insecure_registries: Vec<String>,
    /// A PEM CA bundle trusted for registries besides the system's roots.
    #[arg(long = "oci-ca-file", env = "GEOFN_OCI_CA_FILE")]
    pub ca_file: Option<PathBuf>,
}

impl OciArgs {
    /// The settings, keeping pulled components under `cache_dir/blobs`
    /// (beside the compiled ones) when there is a cache.
    pub fn settings(&self, cache_dir: Option<&Path>) -> RegistrySettings {
        RegistrySettings {
            insecure: self
                .insecure_registries
                .iter()
                .map(|r| r.trim().to_owned())
                .filter(|r| !r.is_empty())
                .collect(),
            ca_file: self.ca_file.clone(),
            blob_dir: cache_dir.map(|dir| dir.join("blobs")),
            max_bytes: MAX_COMPONENT_BYTES as u64,
        }
    }
}
