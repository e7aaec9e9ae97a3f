//! `/admin/...`: what this replica serves. Mounted only when an admin token
//! is configured (or an issuer and an admin scope), and then only for
//! requests bearing it (or a verified token with that scope).

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
use geofn_contract::auth::AuthPolicy;
use geofn_contract::outbound::OutboundPolicy;
use geofn_contract::schedules::Schedule;
use geofn_handler_set::fleet::store;
use geofn_handler_set::reload::stats::ReloadReport;
use geofn_handler_set::variables::VariableState;

use crate::schedule_stats::RunStats;

use geofn_auth::refusal::Refusal;

use crate::problem::{self, Problem};
use crate::state::AppState;
use crate::{caller, push};

/// Whether this replica has admin routes: with an admin token, or with an
/// issuer and a scope that makes its tokens good for them.
pub fn enabled(state: &AppState) -> bool {
    state.admin_token.is_some() || admin_scope(state).is_some()
}

fn admin_scope(state: &AppState) -> Option<&str> {
    state.auth.as_deref().and_then(|auth| auth.admin_scope())
}

/// The admin routes, behind the bearer-token check.
pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route(
            "/handlers",
            get(handlers).post(push::push_named_by_component),
        )
        .route("/handlers/{name}", put(push::push))
        .route("/handlers/{name}/rollback", post(push::rollback))
        .method_not_allowed_fallback(problem::method_not_allowed)
        .layer(middleware::from_fn_with_state(state, require_admin))
}

/// Lets through the admin token, or a verified token with the admin scope.
async fn require_admin(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(geofn_auth::bearer);
    // Compare digests so the comparison's time says nothing about the token.
    let is_admin_token =
        |token: &Arc<str>| presented.is_some_and(|p| Sha256::digest(p) == Sha256::digest(&**token));
    if state.admin_token.as_ref().is_some_and(is_admin_token) {
        return next.run(request).await;
    }
    if let (Some(token), Some(auth), Some(scope)) =
        (presented, state.auth.as_deref(), admin_scope(&state))
        && let Ok(caller) = auth.verify(token).await
    {
        if caller.scopes.iter().any(|s| s == scope) {
            return next.run(request).await;
        }
        return caller::refused(&Refusal::InsufficientScope(scope.to_owned()));
    }
    let mut response = Problem::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "Unauthorized",
        "admin routes need the admin token (or a token with the admin scope) as a bearer token",
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
    /// Routes that need a verified token, and their scopes.
    auth: AuthPolicy,
    /// Its schema migrations, by id, in order (applied before it served).
    migrations: Vec<String>,
    /// Its variables: name, secrecy and where the value came from, never
    /// the value.
    variables: Vec<VariableState>,
    /// Origins it may call.
    outbound: OutboundPolicy,
    /// Its schedules, with this replica's runs of each.
    schedules: Vec<ScheduleView>,
    origin: String,
}

/// A schedule as written, and its runs on this replica.
#[derive(Debug, Serialize)]
struct ScheduleView {
    name: String,
    #[serde(flatten)]
    spec: Schedule,
    /// This replica's runs (each tick runs on one replica of the fleet).
    here: RunStats,
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
            auth: h.auth.clone(),
            migrations: h.embedded.migrations.iter().map(|m| m.id.clone()).collect(),
            variables: h.variable_states.clone(),
            outbound: h.outbound_policy.clone(),
            schedules: h
                .schedules
                .iter()
                .map(|s| ScheduleView {
                    name: s.name.clone(),
                    spec: s.spec.clone(),
                    here: state.schedules.of(&h.name, &s.name),
                })
                .collect(),
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
