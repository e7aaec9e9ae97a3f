//! `/admin/...`: what this replica serves. Mounted only when an admin token
//! is configured, and then only for requests bearing it.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use geofn_contract::access::DatabaseAccess;
use geofn_handler_set::fleet::store;
use geofn_handler_set::reload::stats::ReloadReport;

use crate::problem::Problem;
use crate::push;
use crate::state::AppState;

/// The admin routes, behind the bearer-token check.
pub fn router(token: Arc<str>) -> Router<AppState> {
    Router::new()
        .route("/handlers", get(handlers))
        .route("/handlers/{name}", put(push::push))
        .route("/handlers/{name}/rollback", post(push::rollback))
        .layer(middleware::from_fn_with_state(token, require_token))
}

async fn require_token(State(token): State<Arc<str>>, request: Request, next: Next) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    // Compare digests so the comparison's time says nothing about the token.
    let matches = presented.is_some_and(|p| Sha256::digest(p) == Sha256::digest(&*token));
    if matches {
        return next.run(request).await;
    }
    let mut response = Problem::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "Unauthorized",
        "admin routes need the admin token as a bearer token",
    )
    .into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"geofn-admin\""),
    );
    response
}

/// One loaded handler, as admins see it.
#[derive(Debug, Serialize)]
struct HandlerView {
    name: String,
    routes: Vec<String>,
    sha256: String,
    size: u64,
    loaded_at: String,
    compile_ms: f64,
    deadline_ms: u128,
    memory_bytes: usize,
    body_bytes: usize,
    db_connections: usize,
    /// Its requests in wasm at once, when capped.
    max_concurrency: Option<usize>,
    /// The database role its SQL runs as.
    db_role: String,
    /// Tables beyond its own schema it may use.
    database: DatabaseAccess,
    /// Its schema migrations, by id, in order (applied before it served).
    migrations: Vec<String>,
    origin: String,
}

#[derive(Debug, Serialize)]
struct HandlersView {
    handlers: Vec<HandlerView>,
    fingerprint: String,
    reload: ReloadReport,
    compile_cache: CacheView,
    /// Every pushed version in the database (or why it could not be read).
    stored: serde_json::Value,
}

#[derive(Debug, Serialize)]
struct CacheView {
    hits: usize,
    misses: usize,
}

/// `GET /admin/handlers`.
async fn handlers(State(state): State<AppState>) -> Json<impl Serialize> {
    let set = state.registry.current();
    let handlers = set
        .handlers()
        .iter()
        .map(|h| HandlerView {
            name: h.name.to_string(),
            routes: h.routes.clone(),
            sha256: h.sha256.clone(),
            size: h.size,
            loaded_at: OffsetDateTime::from(h.loaded_at)
                .format(&Rfc3339)
                .unwrap_or_default(),
            compile_ms: h.compile_time.as_secs_f64() * 1e3,
            deadline_ms: h.limits.deadline.as_millis(),
            memory_bytes: h.limits.memory_bytes,
            body_bytes: h.limits.body_bytes,
            db_connections: h.limits.db_connections,
            max_concurrency: h.limits.max_concurrency,
            db_role: h.db.primary.role().to_owned(),
            database: h.database.clone(),
            migrations: h.embedded.migrations.iter().map(|m| m.id.clone()).collect(),
            origin: h.origin.to_string(),
        })
        .collect();
    let (hits, misses) = state.runtime().cache_counts();
    let stored = match store::history(&state.pool).await {
        Ok(versions) => serde_json::json!(versions),
        Err(err) => serde_json::json!({ "error": err.to_string() }),
    };
    Json(HandlersView {
        stored,
        handlers,
        fingerprint: set.fingerprint().to_owned(),
        reload: state.reload.report(),
        compile_cache: CacheView { hits, misses },
    })
}
