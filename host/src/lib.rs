//! # geofn host
//!
//! Serves HTTP requests by running WebAssembly handler components against
//! PostGIS. One process: an axum server, a pool of PostgreSQL connections,
//! a wasmtime engine, and an atomically swappable set of handlers.
//!
//! Layout, one concern per module:
//! - [`config`]: flags and environment (clap), including the guide's `DB_*` variables.
//! - [`startup`]: turning configuration into a ready [`AppState`].
//! - [`state`]: [`AppState`], what every request shares.
//! - [`http`]: the router, host-native routes, dispatch to handlers, problem documents.
//! - [`registry`]: the manifest, loading components, the swappable route table.
//! - [`runtime`]: the engine, per-request stores, limits, and the host imports.
//! - [`reload`]: hot swap, the reconcile loop behind file events and polling.
//! - [`bindings`]: the `geofn:handler` WIT world, generated once.
//! - [`db`]: the pool, migrations, and PostgreSQL ↔ WIT value mapping.
//! - [`dev`]: the private PostgreSQL cluster of `geofn dev` and the tests.
//! - [`shutdown`]: the one shutdown signal.

#![deny(missing_docs)]

pub mod bindings;
pub mod config;
pub mod db;
pub mod dev;
pub mod http;
pub mod registry;
pub mod reload;
pub mod runtime;
pub mod shutdown;
pub mod startup;
pub mod state;

pub use state::AppState;

/// Serves `state` on `listener` until `shutdown` is cancelled. Then:
/// readiness turns 503, serving goes on for `timing.delay`, the listener
/// closes, and requests in flight get up to `timing.drain` to finish.
pub async fn run(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: tokio_util::sync::CancellationToken,
    timing: shutdown::ShutdownTiming,
) -> std::io::Result<()> {
    use std::future::IntoFuture;

    let draining = state.draining.clone();
    let admission = state.admission.clone();
    let stop_accepting = {
        let shutdown = shutdown.clone();
        async move {
            shutdown.cancelled().await;
            draining.store(true, std::sync::atomic::Ordering::Relaxed);
            tracing::info!(delay_ms = timing.delay.as_millis() as u64, "draining");
            tokio::time::sleep(timing.delay).await;
            tracing::info!("listener closed; finishing requests in flight");
        }
    };
    let server = axum::serve(listener, http::router(state))
        .with_graceful_shutdown(stop_accepting)
        .into_future();
    let give_up = async {
        shutdown.cancelled().await;
        tokio::time::sleep(timing.delay + timing.drain).await;
    };
    tokio::select! {
        result = server => result,
        () = give_up => {
            tracing::warn!(
                in_flight = admission.in_flight(),
                "drain timeout: exiting with requests still in flight"
            );
            Ok(())
        }
    }
}
