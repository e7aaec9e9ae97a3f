//! Everything requests share, cheap to clone.

use std::ops::Deref;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use deadpool_postgres::Pool;
use geofn_auth::verifier::Verifier;
use geofn_db::handler_databases::HandlerDatabases;
use geofn_db::replica::ReadRouter;
use geofn_handler_set::fleet::overlay::Fleet;
use geofn_handler_set::loader::Loader;
use geofn_handler_set::reload::ReloadStats;
use geofn_handler_set::set::Registry;
use geofn_runtime::Runtime;
use geofn_runtime::budget::MemoryBudget;
use geofn_telemetry::metrics::Exporter;

use crate::admission::Admission;
use crate::head_limits::HeadLimits;
use crate::schedule_stats::ScheduleStats;

/// Shared state of one host process, one pointer wide: axum clones it into
/// every request and every layer that reads it, so a clone is one atomic
/// increment rather than a dozen (a profile of `POST /point` found cloning
/// and dropping the field-by-field state at ~3.5% of the host's samples).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    /// The state every request will see.
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What [`AppState`] points at.
pub struct Shared {
    /// The host's own PostgreSQL connections (its tables, readiness);
    /// handlers' SQL never runs on them.
    pub pool: Pool,
    /// What building handler sets needs: engine, handler databases,
    /// memory budget, default limits.
    pub loader: Loader,
    /// The handlers being served.
    pub registry: Arc<Registry>,
    /// Outcomes of hot swaps.
    pub reload: Arc<ReloadStats>,
    /// Bearer token of `/admin/...`; no admin routes without one.
    pub admin_token: Option<Arc<str>>,
    /// The bounds on every request's target and header fields.
    pub head_limits: HeadLimits,
    /// The bound on handler requests in flight.
    pub admission: Arc<Admission>,
    /// Set when shutdown begins: readiness turns 503 so balancers move on.
    pub draining: Arc<AtomicBool>,
    /// Renders `/metrics`.
    pub metrics: Exporter,
    /// Pushed handler versions.
    pub fleet: Arc<Fleet>,
    /// The handlers directory (pushes are checked against its manifest).
    pub handlers_dir: Arc<Path>,
    /// Where reads go, when there is a read replica.
    pub reads: Option<Arc<ReadRouter>>,
    /// Verifies bearer tokens, when an issuer is configured.
    pub auth: Option<Arc<Verifier>>,
    /// This replica's runs of the handlers' schedules.
    pub schedules: Arc<ScheduleStats>,
}

impl Shared {
    /// The wasm engine and linker.
    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.loader.runtime
    }

    /// Handler roles and pools.
    pub fn databases(&self) -> &Arc<HandlerDatabases> {
        &self.loader.databases
    }

    /// The memory budget.
    pub fn budget(&self) -> &Arc<MemoryBudget> {
        &self.loader.budget
    }

    /// Whether this replica is shutting down.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }
}
