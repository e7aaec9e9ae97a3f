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
//! - [`server`]: the accept loop and the order of a graceful shutdown.
//! - [`http`]: the router, host-native routes, dispatch to handlers, problem documents.
//! - [`registry`]: the manifest, loading components, the swappable route table.
//! - [`runtime`]: the engine, per-request stores, limits, and the host imports.
//! - [`reload`]: hot swap, the reconcile loop behind file events and polling.
//! - [`fleet`]: pushed handler versions in PostgreSQL, LISTEN/NOTIFY to every replica.
//! - [`bindings`]: the `geofn:handler` WIT world, generated once.
//! - [`db`]: the pool, migrations, and PostgreSQL ↔ WIT value mapping.
//! - [`dev`]: the private PostgreSQL cluster of `geofn dev` and the tests.
//! - [`shutdown`]: the one shutdown signal.
//! - [`healthcheck`]: `geofn health`, the container health check.
//! - [`admin_client`]: `geofn push`, `rollback`, `handlers`.
//! - [`scaffold`]: `geofn new`, a handler crate of its own.
//! - [`telemetry`]: Prometheus metrics and request ids.

#![deny(missing_docs)]

pub mod admin_client;
pub mod bindings;
pub mod config;
pub mod db;
pub mod dev;
pub mod fleet;
pub mod healthcheck;
pub mod http;
pub mod registry;
pub mod reload;
pub mod runtime;
pub mod scaffold;
pub mod server;
pub mod shutdown;
pub mod startup;
pub mod state;
pub mod telemetry;

pub use state::AppState;

/// Serves `state` on `listener` until `shutdown` is cancelled, then shuts
/// down as [`server`] describes: stop accepting, serve open connections
/// for `timing.delay` while closing them, drain within `timing.drain`.
pub async fn run(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: tokio_util::sync::CancellationToken,
    timing: shutdown::ShutdownTiming,
) -> std::io::Result<()> {
    let draining = state.draining.clone();
    server::serve(listener, http::router(state), shutdown, draining, timing).await
}
