//! What building a handler set needs from the layers below it.

use std::sync::Arc;

use geofn_db::handler_databases::HandlerDatabases;
use geofn_oci::Registry;
use geofn_runtime::Limits;
use geofn_runtime::Runtime;
use geofn_runtime::budget::MemoryBudget;
use geofn_runtime::outbound::OutboundSettings;

use crate::variables::VariableSources;

/// Everything turning a snapshot into servable handlers needs: the engine
/// to compile with, the database to give each handler its role and pool,
/// the memory budget, and the limits where a manifest is silent.
#[derive(Clone)]
pub struct Loader {
    /// The wasm engine.
    pub runtime: Arc<Runtime>,
    /// Handler roles and pools.
    pub databases: Arc<HandlerDatabases>,
    /// The memory budget.
    pub budget: Arc<MemoryBudget>,
    /// Limits where the manifest is silent.
    pub defaults: Limits,
    /// Registries components named `oci://…` come from.
    pub registry: Arc<Registry>,
    /// Where variables' values come from besides `geofn.toml`.
    pub variables: VariableSources,
    /// What handlers' outbound calls share: TLS, pooling.
    pub outbound: OutboundSettings,
}
