//! From configuration to a ready [`AppState`], and the background tasks
//! that run beside the server.

use std::sync::Arc;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use crate::config::{ServerArgs, redacted};
use crate::registry::{Registry, load_dir};
use crate::reload::{ReloadStats, Reloader};
use crate::runtime::Runtime;
use crate::state::AppState;

/// Builds the engine, loads the handlers and connects to the database (the
/// last two side by side), failing with a message that says what to fix.
pub async fn build_state(
    server: &ServerArgs,
    database: tokio_postgres::Config,
) -> anyhow::Result<AppState> {
    let settings = server.runtime_settings();
    if let Some(dir) = &settings.cache_dir {
        tracing::info!(cache.dir = %dir.display(), "compiled components are cached");
    }
    let runtime = Arc::new(
        Runtime::new(&settings).map_err(|e| anyhow::anyhow!("creating the wasm engine: {e:#}"))?,
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
    let reload = Arc::new(ReloadStats::new(&handlers));
    Ok(AppState {
        pool,
        runtime,
        registry: Arc::new(Registry::new(handlers)),
        reload,
        admin_token: server.admin_token.as_deref().map(Arc::from),
    })
}

/// Starts the hot-swap loop on the handlers directory; it stops with `shutdown`.
pub fn spawn_reloader(
    server: &ServerArgs,
    state: &AppState,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    let reloader = Reloader {
        dir: server.handlers.clone(),
        runtime: state.runtime.clone(),
        registry: state.registry.clone(),
        defaults: server.default_limits(),
        stats: state.reload.clone(),
        poll: server.reload_poll(),
    };
    reloader.spawn(shutdown)
}
