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
use axum::extract::State;
use axum::middleware;
use axum::response::Response;
use axum::routing::get;
use http::HeaderValue;
use http::header::CONNECTION;
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
        .layer(middleware::map_response_with_state(
            state.clone(),
            close_when_draining,
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// While draining, every answer closes its connection, so proxies stop
/// reusing connections to this replica before its listener closes: none is
/// idle in their pools when it does, and no request (a POST above all)
/// races a closing connection.
async fn close_when_draining(State(state): State<AppState>, mut response: Response) -> Response {
    if state.is_draining() {
        response
            .headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
    response
}
