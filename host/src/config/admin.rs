//! The admin commands' arguments: `push`, `publish`, `rollback`,
//! `handlers`, and where the admin API is.

use std::path::PathBuf;

use clap::Args;

use super::oci::OciArgs;

/// Where the admin API is.
#[derive(Debug, Clone, Args)]
pub struct AdminArgs {
    /// Base URL of any replica (or the load balancer in front of them).
    #[arg(long, env = "GEOFN_URL", default_value = "http://127.0.0.1:5000")]
    pub url: String,
    /// The admin token (GEOFN_ADMIN_TOKEN of the replicas) [default: a
    /// local `geofn dev` server's own, when --url is one on this machine].
    #[arg(long, env = "GEOFN_ADMIN_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

/// `geofn push`.
#[derive(Debug, Args)]
pub struct PushArgs {
    /// The component (.wasm) to push, or an artifact
    /// (oci://REGISTRY/REPO:TAG or @sha256:...) the replicas pull: its own
    /// manifest gives its name, routes, limits, database access and
    /// migrations. A tag is resolved once, by the replica pushed to; the
    /// fleet keeps the digest.
    pub component: PathBuf,
    /// Handler name, if not the one the component carries.
    #[arg(long)]
    pub name: Option<String>,
    /// A route, "METHOD /path" (repeat for several), instead of the component's.
    #[arg(long = "route")]
    pub routes: Vec<String>,
    /// Limits, as in the manifest: deadline_ms=5000, memory_mib=32, ...
    #[arg(long = "limit", value_parser = key_value)]
    pub limits: Vec<(String, String)>,
    /// A table beyond its own schema the handler may read (repeat for several);
    /// the current grants are kept unless --read or --write is given.
    #[arg(long = "read")]
    pub read: Vec<String>,
    /// A table beyond its own schema the handler may read and write.
    #[arg(long = "write")]
    pub write: Vec<String>,
    /// Where and as whom.
    #[command(flatten)]
    pub admin: AdminArgs,
}

/// `geofn publish`.
#[derive(Debug, Args)]
pub struct PublishArgs {
    /// The component (.wasm), with its embedded manifest.
    pub component: PathBuf,
    /// Where: oci://REGISTRY/REPOSITORY:TAG (credentials from the auth
    /// file podman and docker write: REGISTRY_AUTH_FILE, else
    /// $XDG_RUNTIME_DIR/containers/auth.json, else ~/.docker/config.json).
    pub reference: String,
    /// How registries are reached.
    #[command(flatten)]
    pub oci: OciArgs,
}

/// `geofn rollback`.
#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// Handler name.
    #[arg(long)]
    pub name: String,
    /// The version to go to; the one before the active one if absent.
    #[arg(long)]
    pub version: Option<u32>,
    /// Where and as whom.
    #[command(flatten)]
    pub admin: AdminArgs,
}

fn key_value(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("{text:?} is not key=value"))
}
