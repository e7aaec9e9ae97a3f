//! The HTTP face of the host.
//!
//! - [`health`]: `/livez` and `/status`, answered natively.
//! - [`dispatch`]: every other route, through the handler registry.
//! - [`problem`]: RFC 9457 error documents.

pub mod dispatch;
pub mod health;
pub mod problem;

use axum::Router;
use axum::routing::get;
use tower_http::trace::TraceLayer;

use crate::state::AppState;

/// The whole application: host routes first, handlers for everything else.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/livez", get(health::livez))
        .route("/status", get(health::status))
        .fallback(dispatch::dispatch)
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
