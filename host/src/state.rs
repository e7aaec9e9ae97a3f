//! Everything requests share, cheap to clone.

use std::sync::Arc;

use deadpool_postgres::Pool;

use crate::registry::Registry;
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
}
