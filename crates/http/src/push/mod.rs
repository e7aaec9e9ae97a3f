//! Fleet deploys: `PUT /admin/handlers/{name}` stores a new version after
//! checking it would load, `POST /admin/handlers/{name}/rollback` goes back;
//! each answers once the replica it was sent to serves the result.
//! Every replica picks the change up through LISTEN/NOTIFY
//! (`geofn_handler_set::fleet`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::body::to_bytes;
use axum::extract::{Path, RawQuery, Request, State};
use axum::response::{IntoResponse, Response};
use http::{StatusCode, header};
use serde_json::json;
use sha2::{Digest, Sha256};

use geofn_contract::manifest::HandlerSpec;
use geofn_contract::names::{valid_name, valid_table};
use geofn_contract::route::parse_route;
use geofn_handler_set::artifact;
use geofn_handler_set::build::build;
use geofn_handler_set::fleet::overlay::component_key;
use geofn_handler_set::fleet::store::{self, MAX_COMPONENT_BYTES, PushSpec, StoreError};
use geofn_handler_set::snapshot::{ComponentFile, read_snapshot};

use crate::problem::Problem;
use crate::state::AppState;

/// How long a push or rollback waits for this replica to serve the new
/// version before it answers: the component was compiled (and cached) and
/// its migrations applied while the push was checked, so the swap itself
/// takes milliseconds; a reload held up by the database takes longer.
const SERVED_WITHIN: Duration = Duration::from_secs(10);
/// How often the served set is looked at meanwhile.
const SERVED_POLL: Duration = Duration::from_millis(5);

fn bad(detail: impl Into<String>) -> Problem {
    Problem::new(
        StatusCode::BAD_REQUEST,
        "invalid-push",
        "Invalid push",
        detail,
    )
}

fn refused(reason: &str, detail: impl Into<String>) -> Problem {
    Problem::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        &format!("component-{reason}"),
        "Component refused",
        detail,
    )
}

fn store_failure(err: StoreError) -> Problem {
    match err {
        StoreError::NoSuchVersion(detail) => Problem::new(
            StatusCode::NOT_FOUND,
            "no-such-version",
            "No such version",
            detail,
        ),
        StoreError::Unavailable(detail) => Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "database-unavailable",
            "Database unavailable",
            detail,
        )
        .retry_after(1),
        other => {
            tracing::error!(error = %other, "fleet store failed");
            Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "store-failed",
                "Store failed",
                "the version could not be stored",
            )
        }
    }
}

/// Routes (`route=GET /x`, repeated), database access (`read=table`,
/// `write=table`, repeated) and limits from the query string.
fn parse_query(query: &str) -> Result<(PushSpec, bool), String> {
    let mut spec = PushSpec::default();
    let mut access_given = false;
    let mut limits: BTreeMap<String, u64> = BTreeMap::new();
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        if key == "route" {
            if parse_route(&value).is_none() {
                return Err(format!("route {value:?} is not \"METHOD /path\""));
            }
            spec.routes.push(value.into_owned());
        } else if key == "read" || key == "write" {
            if !valid_table(&value) {
                return Err(format!("{key}={value:?} is not `table` or `schema.table`"));
            }
            access_given = true;
            let list = if key == "read" {
                &mut spec.database.read
            } else {
                &mut spec.database.write
            };
            list.push(value.into_owned());
        } else {
            let number = value
                .parse()
                .map_err(|_| format!("{key} must be a whole number, got {value:?}"))?;
            limits.insert(key.into_owned(), number);
        }
    }
    spec.limits =
        serde_json::from_value(json!(limits)).map_err(|e| format!("unknown or bad limit: {e}"))?;
    Ok((spec, access_given))
}

/// `PUT /admin/handlers/{name}?route=...&memory_mib=...` with the component as body.
pub async fn push(
    State(state): State<AppState>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
    request: Request,
) -> Response {
    push_version(&state, name, query.as_deref().unwrap_or_default(), request)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn push_version(
    state: &AppState,
    name: String,
    query: &str,
    request: Request,
) -> Result<Response, Problem> {
    if !valid_name(&name) {
        return Err(bad(format!(
            "handler name {name:?} must be 1-63 characters of a-z, 0-9, - and _"
        )));
    }
    let (mut spec, access_given) = parse_query(query).map_err(bad)?;
    let bytes = read_component(request).await?;
    let sha256 = hex::encode(Sha256::digest(&bytes));
    compiles(state, &bytes, &sha256).await?;

    // Routes and access: as given, else the component's own, else what
    // the running version has (for a component that says nothing of them).
    let embedded = artifact::embedded(&bytes)
        .map_err(|err| refused("artifact-invalid", err.to_string()))?
        .unwrap_or_default();
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

    would_load(state, &name, &bytes, &sha256, &spec).await?;
    let notification = state.fleet.notification(&name);
    let version = store::push(&state.pool, &name, &bytes, &sha256, &spec, &notification)
        .await
        .map_err(store_failure)?;
    tracing::info!(handler.name = %name, handler.version = version, handler.sha256 = %sha256, "handler pushed");
    let served_here = served_here(state, &name, version).await;
    let routes = if spec.routes.is_empty() {
        &embedded.routes
    } else {
        &spec.routes
    };
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, format!("/admin/handlers/{name}"))],
        Json(json!({
            "name": name, "version": version, "sha256": sha256,
            "routes": routes, "database": spec.database,
            "migrations": embedded.migrations.iter().map(|m| &m.id).collect::<Vec<_>>(),
            "served_here": served_here,
        })),
    )
        .into_response())
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

/// The request body, the component, within [`MAX_COMPONENT_BYTES`].
async fn read_component(request: Request) -> Result<Arc<[u8]>, Problem> {
    let too_large = || {
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "component-too-large",
            "Component too large",
            format!("components are at most {MAX_COMPONENT_BYTES} bytes"),
        )
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > MAX_COMPONENT_BYTES) {
        return Err(too_large());
    }
    let bytes = to_bytes(request.into_body(), MAX_COMPONENT_BYTES)
        .await
        .map_err(|_| too_large())?;
    if bytes.is_empty() {
        return Err(bad("the body must be the component (application/wasm)"));
    }
    Ok(Arc::from(&bytes[..]))
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
    let mut snapshot = read_snapshot(&state.handlers_dir).await.map_err(|err| {
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
    snapshot.components.insert(
        key.clone(),
        ComponentFile {
            bytes: bytes.clone(),
            sha256: sha256.to_owned(),
        },
    );
    snapshot.manifest.handlers.insert(
        name.to_owned(),
        HandlerSpec {
            component: key,
            routes: spec.routes.clone(),
            limits: spec.limits,
            database: (!spec.database.is_empty()).then(|| spec.database.clone()),
            // The component's own [auth] applies.
            auth: None,
        },
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
