//! From configuration to a ready [`AppState`]: engine, handlers, database.

use std::sync::Arc;

use anyhow::Context;

use crate::config::{ServerArgs, redacted};
use crate::registry::{Registry, load_dir};
use crate::runtime::Runtime;
use crate::state::AppState;

/// Builds the engine, loads the handlers and connects to the database (the
/// last two side by side), failing with a message that says what to fix.
pub async fn build_state(
    server: &ServerArgs,
    database: tokio_postgres::Config,
) -> anyhow::Result<AppState> {
    let runtime = Arc::new(
        Runtime::new(server.max_memory_mib << 20)
            .map_err(|e| anyhow::anyhow!("creating the wasm engine: {e:#}"))?,
    );
    let target = redacted(&database);
    let handlers = async {
        load_dir(&runtime, &server.handlers, server.default_limits())
            .await
            .with_context(|| format!("loading handlers from {}", server.handlers.display()))
    };
    let pool = async {
        crate::db::connect(database, &server.pool_settings())
            .await
            .with_context(|| format!("preparing the database at {target}"))
    };
    let (handlers, pool) = tokio::try_join!(handlers, pool)?;
    tracing::info!(
        handlers = handlers.handlers().len(),
        dir = %server.handlers.display(),
        "handlers loaded"
    );
    Ok(AppState {
        pool,
        runtime,
        registry: Arc::new(Registry::new(handlers)),
    })
}
