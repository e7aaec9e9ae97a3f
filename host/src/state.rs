//! Everything requests share, cheap to clone.

use std::sync::Arc;

use deadpool_postgres::Pool;

use crate::registry::Registry;
use crate::reload::ReloadStats;
use crate::runtime::Runtime;

/// Shared state of one host process.
#[derive(Clone)]
pub struct AppState {
    /// PostgreSQL connections.
    pub pool: Pool,
    /// The wasm engine and linker.
    pub runtime: Arc<Runtime>,
    /// The handlers being served.
    pub registry: Arc<Registry>,
    /// Outcomes of hot swaps.
    pub reload: Arc<ReloadStats>,
    /// Bearer token of `/admin/...`; no admin routes without one.
    pub admin_token: Option<Arc<str>>,
}
