//! Everything requests share, cheap to clone.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use deadpool_postgres::Pool;
use metrics_exporter_prometheus::PrometheusHandle;

use crate::fleet::overlay::Fleet;
use crate::http::admission::Admission;
use crate::registry::Registry;
use crate::reload::ReloadStats;
use crate::runtime::{Limits, Runtime};

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
    /// The bound on handler requests in flight.
    pub admission: Arc<Admission>,
    /// Set when shutdown begins: readiness turns 503 so balancers move on.
    pub draining: Arc<AtomicBool>,
    /// Renders `/metrics`.
    pub metrics: PrometheusHandle,
    /// Pushed handler versions.
    pub fleet: Arc<Fleet>,
    /// The handlers directory (pushes are checked against its manifest).
    pub handlers_dir: Arc<Path>,
    /// Limits where a manifest or push is silent.
    pub default_limits: Limits,
}

impl AppState {
    /// Whether this replica is shutting down.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }
}
