//! Fleet deploys: `PUT /admin/handlers/{name}` (or `POST /admin/handlers`,
//! the name the component's own) stores a new version after checking it
//! would load, `POST /admin/handlers/{name}/rollback` goes back;
//! each answers once the replica it was sent to serves the result.
//! Every replica picks the change up through LISTEN/NOTIFY
//! (`geofn_handler_set::fleet`).
//!
//! - [`answers`]: the problems it answers with.
//! - [`query`]: what the query string says.
//! - [`source`]: the component, from the body or a registry.

mod answers;
mod query;
mod source;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{Path, RawQuery, Request, State};
use axum::response::{IntoResponse, Response};
use http::{StatusCode, header};
use serde_json::json;

use geofn_contract::names::valid_name;
use geofn_handler_set::artifact;
use geofn_handler_set::build::build;
use geofn_handler_set::fleet::overlay::component_key;
use geofn_handler_set::fleet::store::{self, PushSpec};
use geofn_handler_set::snapshot::{ComponentFile, read_snapshot};

use crate::problem::Problem;
use crate::state::AppState;
use answers::{bad, refused, store_failure};
use query::{PushQuery, parse_query};
use source::Pushed;

/// How long a push or rollback waits for this replica to serve the new
/// version before it answers: the component was compiled (and cached) and
/// its migrations applied while the push was checked, so the swap itself
/// takes milliseconds; a reload held up by the database takes longer.
const SERVED_WITHIN: Duration = Duration::from_secs(10);
/// How often the served set is looked at meanwhile.
const SERVED_POLL: Duration = Duration::from_millis(5);

/// `PUT /admin/handlers/{name}?route=...&memory_mib=...` with the component
/// as body, or with `source=oci://...` and no body.
pub async fn push(
    State(state): State<AppState>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
    request: Request,
) -> Response {
    push_version(
        &state,
        Some(name),
        query.as_deref().unwrap_or_default(),
        request,
    )
    .await
    .unwrap_or_else(IntoResponse::into_response)
}

/// `POST /admin/handlers?source=oci://...`: the handler the component
/// names itself.
pub async fn push_named_by_component(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    request: Request,
) -> Response {
    push_version(&state, None, query.as_deref().unwrap_or_default(), request)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn push_version(
    state: &AppState,
    name: Option<String>,
    query: &str,
    request: Request,
) -> Result<Response, Problem> {
    if let Some(name) = name.as_deref().filter(|name| !valid_name(name)) {
        return Err(bad(format!(
            "handler name {name:?} must be 1-63 characters of a-z, 0-9, - and _"
        )));
    }
    let PushQuery {
        mut spec,
        access_given,
        source,
    } = parse_query(query).map_err(bad)?;
    let mut clock = Stopwatch::start();
    let pushed = source::component(&state.loader.registry, source.as_deref(), request).await?;
    let received_ms = clock.lap();
    let Pushed { bytes, sha256, .. } = &pushed;
    compiles(state, bytes, sha256).await?;
    let compile_ms = clock.lap();

    // Routes and access: as given, else the component's own, else what
    // the running version has (for a component that says nothing of them).
    let embedded = artifact::embedded(bytes)
        .map_err(|err| refused("artifact-invalid", err.to_string()))?
        .unwrap_or_default();
    let name = match (name, &embedded.name) {
        (Some(name), _) => name,
        (None, Some(own)) if valid_name(own) => own.clone(),
        (None, _) => {
            return Err(bad(
                "the component does not name itself (no geofn-handler section with a name): \
                 push it to /admin/handlers/NAME",
            ));
        }
    };
    let current = state.registry.current();
    let running = current.handlers().iter().find(|h| *h.name == *name);
    if spec.routes.is_empty() && embedded.routes.is_empty() {
        let Some(handler) = running else {
            return Err(bad(format!(
                "{name} is new and its component names no routes: give them (route=GET /path)"
            )));
        };
        spec.routes = handler.routes.clone();
    }
    if !access_given
        && embedded.database.is_empty()
        && let Some(handler) = running
    {
        spec.database = handler.database.clone();
    }

    would_load(state, &name, bytes, sha256, &spec).await?;
    let check_ms = clock.lap();
    let notification = state.fleet.notification(&name);
    let version = store::push(
        &state.pool,
        &name,
        pushed.stored(),
        sha256,
        &spec,
        &notification,
    )
    .await
    .map_err(store_failure)?;
    tracing::info!(handler.name = %name, handler.version = version, handler.sha256 = %sha256, source = pushed.pinned.as_deref(), "handler pushed");
    let stored_ms = clock.lap();
    let served_here = served_here(state, &name, version).await;
    let swap_ms = clock.lap();
    let routes = if spec.routes.is_empty() {
        &embedded.routes
    } else {
        &spec.routes
    };
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, format!("/admin/handlers/{name}"))],
        Json(json!({
            "name": name, "version": version, "sha256": sha256, "source": pushed.pinned,
            "routes": routes, "database": spec.database,
            "migrations": embedded.migrations.iter().map(|m| &m.id).collect::<Vec<_>>(),
            "served_here": served_here,
            // Where the push's time went: the component received (or
            // resolved, pulled and verified), compiled, the whole set
            // built as every replica will (migrations included), stored,
            // and swapped in here.
            "timings_ms": {
                "receive": received_ms, "compile": compile_ms, "check": check_ms,
                "store": stored_ms, "swap": swap_ms,
            },
        })),
    )
        .into_response())
}

/// Milliseconds between laps.
struct Stopwatch(Instant);

impl Stopwatch {
    fn start() -> Self {
        Self(Instant::now())
    }

    /// Milliseconds since the last lap (or the start).
    fn lap(&mut self) -> f64 {
        let now = Instant::now();
        let ms = (now - self.0).as_secs_f64() * 1e3;
        self.0 = now;
        (ms * 10.0).round() / 10.0
    }
}

/// Waits until this replica serves `version` of `name` (its reload loop
/// takes the change from the fleet's notification), so that whoever
/// pushed can call the new version through this replica as soon as the
/// answer arrives; whether it did within [`SERVED_WITHIN`]. The others
/// follow on their own.
async fn served_here(state: &AppState, name: &str, version: i32) -> bool {
    let origin = component_key(name, version).display().to_string();
    let deadline = Instant::now() + SERVED_WITHIN;
    loop {
        let served = state
            .registry
            .current()
            .handlers()
            .iter()
            .any(|h| *h.name == *name && *h.origin == origin);
        if served {
            return true;
        }
        if Instant::now() >= deadline {
            tracing::warn!(handler.name = %name, handler.version = version, "stored, but not served here within {SERVED_WITHIN:?}");
            return false;
        }
        tokio::time::sleep(SERVED_POLL).await;
    }
}

/// Compiles it and checks it implements the handler world.
async fn compiles(state: &AppState, bytes: &Arc<[u8]>, sha256: &str) -> Result<(), Problem> {
    let (runtime, bytes, sha256) = (state.runtime().clone(), bytes.clone(), sha256.to_owned());
    match tokio::task::spawn_blocking(move || runtime.prepare(&bytes, &sha256).map(drop)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(err)) => Err(refused(err.reason(), err.to_string())),
        Err(panicked) => {
            tracing::error!(error = %panicked, "compiling a pushed component panicked");
            Err(refused(
                "compiler-failed",
                "the compiler failed on this component",
            ))
        }
    }
}

/// Builds the whole set the push would make, exactly as every replica
/// will: limits the host cannot meet, routes that conflict, a role that
/// cannot be set up, a migration that fails or changed are refused here,
/// before anything is stored. (Its migrations are applied by this: they
/// are forward-only and each is applied once, so the replicas find them
/// done.)
async fn would_load(
    state: &AppState,
    name: &str,
    bytes: &Arc<[u8]>,
    sha256: &str,
    spec: &PushSpec,
) -> Result<(), Problem> {
    let mut snapshot = read_snapshot(&state.handlers_dir, &state.loader)
        .await
        .map_err(|err| {
            refused(
                "manifest",
                format!("the handlers directory does not load: {err}"),
            )
        })?;
    state
        .fleet
        .overlay(&mut snapshot)
        .await
        .map_err(store_failure)?;
    let key = component_key(name, 0);
    snapshot.put_pushed(
        name,
        key,
        ComponentFile {
            bytes: bytes.clone(),
            sha256: sha256.to_owned(),
        },
        spec.routes.clone(),
        spec.limits,
        spec.database.clone(),
    );
    let current = state.registry.current();
    build(
        &state.loader,
        &state.handlers_dir,
        &snapshot,
        Some(&current),
    )
    .await
    .map(drop)
    .map_err(|err| refused(err.reason(), err.to_string()))
}

/// `POST /admin/handlers/{name}/rollback[?version=N]`.
pub async fn rollback(
    State(state): State<AppState>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let mut to = None;
    for (key, value) in form_urlencoded::parse(query.as_deref().unwrap_or_default().as_bytes()) {
        match (key.as_ref(), value.parse::<i32>()) {
            ("version", Ok(version)) if version > 0 => to = Some(version),
            _ => {
                return bad(format!(
                    "unexpected parameter {key}={value}; only version=N"
                ))
                .into_response();
            }
        }
    }
    let notification = state.fleet.notification(&name);
    match store::rollback(&state.pool, &name, to, &notification).await {
        Ok(version) => {
            tracing::info!(handler.name = %name, handler.version = version, "handler rolled back");
            let served_here = served_here(&state, &name, version).await;
            Json(json!({ "name": name, "version": version, "served_here": served_here }))
                .into_response()
        }
        Err(err) => store_failure(err).into_response(),
    }
}
