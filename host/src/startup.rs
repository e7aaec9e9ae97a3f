//! From configuration to a ready [`AppState`], and the background tasks
//! that run beside the server.

use std::sync::Arc;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use crate::config::{Database, ServerArgs, redacted};
use crate::fleet::overlay::Fleet;
use crate::http::admission::Admission;
use crate::registry::{Registry, build, load_dir, read_snapshot};
use crate::reload::{ReloadStats, Reloader};
use crate::runtime::{MAX_CONCURRENT_INSTANCES, Runtime};
use crate::state::AppState;

/// Builds the engine, loads the handlers and connects to the database (the
/// last two side by side), failing with a message that says what to fix.
pub async fn build_state(server: &ServerArgs, database: Database) -> anyhow::Result<AppState> {
    let settings = server.runtime_settings();
    if let Some(dir) = &settings.cache_dir {
        tracing::info!(cache.dir = %dir.display(), "compiled components are cached");
    }
    let runtime = Arc::new(
        Runtime::new(&settings).map_err(|e| anyhow::anyhow!("creating the wasm engine: {e:#}"))?,
    );
    let target = redacted(&database.config);
    let handlers = async {
        load_dir(&runtime, &server.handlers, server.default_limits())
            .await
            .with_context(|| format!("loading handlers from {}", server.handlers.display()))
    };
    let pool = async {
        crate::db::connect(database.config, &database.tls, &server.pool_settings())
            .await
            .with_context(|| format!("preparing the database at {target}"))
    };
    let (handlers, pool) = tokio::try_join!(handlers, pool)?;
    // Pushed versions replace the directory's; compile them now rather
    // than serve the directory's versions until the first reload.
    let fleet = Arc::new(Fleet::new(pool.clone()));
    let handlers = match with_pushed(&runtime, server, &fleet, &handlers).await {
        Ok(Some(merged)) => merged,
        Ok(None) => handlers,
        Err(err) => {
            tracing::warn!(error = %err, "pushed handlers not loaded at start; the reload loop retries");
            handlers
        }
    };
    tracing::info!(
        handlers = handlers.handlers().len(),
        dir = %server.handlers.display(),
        "handlers loaded"
    );
    let reload = Arc::new(ReloadStats::new(&handlers));
    anyhow::ensure!(
        (1..=MAX_CONCURRENT_INSTANCES as usize).contains(&server.max_in_flight),
        "--max-in-flight must be between 1 and {MAX_CONCURRENT_INSTANCES} (instance slots)"
    );
    Ok(AppState {
        pool,
        runtime,
        registry: Arc::new(Registry::new(handlers)),
        reload,
        admin_token: server.admin_token.as_deref().map(Arc::from),
        admission: Arc::new(Admission::new(server.max_in_flight)),
        draining: Arc::default(),
        metrics: crate::telemetry::metrics::install(),
        fleet,
        handlers_dir: server.handlers.as_path().into(),
        default_limits: server.default_limits(),
    })
}

/// The directory's handlers with the pushed ones laid over, if any.
async fn with_pushed(
    runtime: &Arc<Runtime>,
    server: &ServerArgs,
    fleet: &Fleet,
    files: &crate::registry::HandlerSet,
) -> anyhow::Result<Option<crate::registry::HandlerSet>> {
    let mut snapshot = read_snapshot(&server.handlers).await?;
    fleet.overlay(&mut snapshot).await?;
    if snapshot.fingerprint == files.fingerprint() {
        return Ok(None);
    }
    let merged = build(
        runtime,
        &server.handlers,
        &snapshot,
        server.default_limits(),
        Some(files),
    )
    .await?;
    Ok(Some(merged))
}

/// Starts the hot-swap loop on the handlers directory and the pushed
/// versions (LISTENing on `database`); it stops with `shutdown`.
pub fn spawn_reloader(
    server: &ServerArgs,
    state: &AppState,
    database: &Database,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    let reloader = Reloader {
        dir: server.handlers.clone(),
        runtime: state.runtime.clone(),
        registry: state.registry.clone(),
        defaults: server.default_limits(),
        stats: state.reload.clone(),
        poll: server.reload_poll(),
        fleet: state.fleet.clone(),
        listen: Some((database.config.clone(), database.tls.clone())),
    };
    reloader.spawn(shutdown)
}
