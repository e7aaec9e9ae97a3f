//! Liveness and readiness, answered by the host without any handler.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde_json::json;

use crate::problem::Problem;
use crate::state::AppState;

/// How long `/status` waits for a connection and `SELECT 1`: below the
/// probe timeouts of Kubernetes (1 s default is too tight for a busy pool,
/// so charts set 3 s) and HAProxy (`timeout check`).
pub const READINESS_TIMEOUT: Duration = Duration::from_secs(2);

/// `GET /livez`: 200 while the process can answer at all.
pub async fn livez() -> Response {
    Json(json!({ "status": "alive" })).into_response()
}

/// `GET /status`: 200 when the database answers through the pool, 503 when
/// it does not, so load balancers stop sending traffic this replica cannot serve.
pub async fn status(State(state): State<AppState>) -> Response {
    if state.is_draining() {
        return Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "draining",
            "Shutting down",
            "this replica is finishing its requests before it stops",
        )
        .into_response();
    }
    match tokio::time::timeout(READINESS_TIMEOUT, ping(&state)).await {
        Ok(Ok(())) => {
            let handlers: Vec<String> = state
                .registry
                .current()
                .handlers()
                .iter()
                .map(|h| h.name.to_string())
                .collect();
            Json(json!({
                "status": "ok",
                "database": "ok",
                "handlers": handlers,
                "version": env!("CARGO_PKG_VERSION"),
            }))
            .into_response()
        }
        Ok(Err(reason)) => unavailable(reason),
        Err(_) => unavailable(format!("no answer within {READINESS_TIMEOUT:?}")),
    }
}

async fn ping(state: &AppState) -> Result<(), String> {
    let client = state.pool.get().await.map_err(|e| e.to_string())?;
    client
        .simple_query("SELECT 1")
        .await
        .map(drop)
        .map_err(|e| e.to_string())
}

fn unavailable(reason: String) -> Response {
    tracing::warn!(reason = %reason, "readiness check failed");
    Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "database-unavailable",
        "Database unavailable",
        "the database does not answer; this replica cannot serve requests",
    )
    .retry_after(1)
    .into_response()
}
