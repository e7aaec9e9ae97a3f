//! The HTTP face of the host.
//!
//! - [`health`]: `/livez` and `/status`, answered natively.
//! - [`admin`]: `/admin/...`, only with an admin token.
//! - [`admission`]: the bound on handler requests in flight.
//! - [`dispatch`]: every other route, through the handler registry.
//! - [`convert`]: HTTP ↔ WIT requests and responses.
//! - [`problem`]: RFC 9457 error documents.

pub mod admin;
pub mod admission;
pub mod convert;
pub mod dispatch;
pub mod health;
pub mod problem;

use axum::Router;
use axum::routing::get;
use tower_http::trace::TraceLayer;

use crate::state::AppState;

/// The whole application: host routes first, handlers for everything else.
pub fn router(state: AppState) -> Router {
    let mut router = Router::new()
        .route("/livez", get(health::livez))
        .route("/status", get(health::status));
    if let Some(token) = &state.admin_token {
        router = router.nest("/admin", admin::router(token.clone()));
    }
    router
        .fallback(dispatch::dispatch)
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
