//! Fleet deploys: `PUT /admin/handlers/{name}` stores a new version after
//! checking it would load, `POST /admin/handlers/{name}/rollback` goes back.
//! Every replica picks the change up through LISTEN/NOTIFY ([`crate::fleet`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::body::to_bytes;
use axum::extract::{Path, RawQuery, Request, State};
use axum::response::{IntoResponse, Response};
use http::{StatusCode, header};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::problem::Problem;
use crate::fleet::MAX_COMPONENT_BYTES;
use crate::fleet::overlay::component_key;
use crate::fleet::store::{self, PushSpec, StoreError};
use crate::registry::load::{ComponentFile, hex};
use crate::registry::manifest::{HandlerSpec, parse_route, valid_name};
use crate::registry::{build, read_snapshot};
use crate::state::AppState;

fn bad(detail: impl Into<String>) -> Response {
    Problem::new(
        StatusCode::BAD_REQUEST,
        "invalid-push",
        "Invalid push",
        detail,
    )
    .into_response()
}

fn refused(reason: &str, detail: impl Into<String>) -> Response {
    Problem::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        &format!("component-{reason}"),
        "Component refused",
        detail,
    )
    .into_response()
}

fn store_failure(err: StoreError) -> Response {
    match err {
        StoreError::NoSuchVersion(detail) => Problem::new(
            StatusCode::NOT_FOUND,
            "no-such-version",
            "No such version",
            detail,
        )
        .into_response(),
        StoreError::Unavailable(detail) => Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "database-unavailable",
            "Database unavailable",
            detail,
        )
        .retry_after(1)
        .into_response(),
        other => {
            tracing::error!(error = %other, "fleet store failed");
            Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "store-failed",
                "Store failed",
                "the version could not be stored",
            )
            .into_response()
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
            if !crate::registry::manifest::valid_table(&value) {
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
    if !valid_name(&name) {
        return bad(format!(
            "handler name {name:?} must be 1-64 characters of a-z, 0-9, - and _"
        ));
    }
    let (mut spec, access_given) = match parse_query(query.as_deref().unwrap_or_default()) {
        Ok(parsed) => parsed,
        Err(why) => return bad(why),
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let too_large = || {
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "component-too-large",
            "Component too large",
            format!("components are at most {MAX_COMPONENT_BYTES} bytes"),
        )
        .into_response()
    };
    if declared.is_some_and(|len| len > MAX_COMPONENT_BYTES) {
        return too_large();
    }
    let Ok(bytes) = to_bytes(request.into_body(), MAX_COMPONENT_BYTES).await else {
        return too_large();
    };
    if bytes.is_empty() {
        return bad("the body must be the component (application/wasm)");
    }
    let current = state.registry.current();
    let running = current.handlers().iter().find(|h| *h.name == *name);
    if spec.routes.is_empty() {
        match running {
            Some(handler) => spec.routes = handler.routes.clone(),
            None => return bad(format!("{name} is new: give its routes (route=GET /path)")),
        }
    }
    if !access_given && let Some(handler) = running {
        spec.database = handler.database.clone();
    }

    // Would it load? Compile it, check the world, and build the whole set
    // it would make (route conflicts), exactly as every replica will.
    let bytes: Arc<[u8]> = Arc::from(&bytes[..]);
    let sha256 = hex(&Sha256::digest(&bytes));
    let compiled = {
        let (runtime, bytes) = (state.runtime().clone(), bytes.clone());
        tokio::task::spawn_blocking(move || runtime.prepare(&bytes).map(drop)).await
    };
    match compiled {
        Ok(Ok(())) => {}
        Ok(Err(err)) => return refused(err.reason(), err.to_string()),
        Err(panicked) => {
            tracing::error!(error = %panicked, "compiling a pushed component panicked");
            return refused("compiler-failed", "the compiler failed on this component");
        }
    }
    let mut snapshot = match read_snapshot(&state.handlers_dir).await {
        Ok(snapshot) => snapshot,
        Err(err) => {
            return refused(
                "manifest",
                format!("the handlers directory does not load: {err}"),
            );
        }
    };
    if let Err(err) = state.fleet.overlay(&mut snapshot).await {
        return store_failure(err);
    }
    let key = component_key(&name, 0);
    snapshot.components.insert(
        key.clone(),
        ComponentFile {
            bytes: bytes.clone(),
            sha256: sha256.clone(),
        },
    );
    snapshot.manifest.handlers.insert(
        name.clone(),
        HandlerSpec {
            component: key,
            routes: spec.routes.clone(),
            limits: spec.limits,
            database: spec.database.clone(),
        },
    );
    // Limits the host cannot meet, routes that conflict, a role that cannot
    // be set up: refused here, before anything is stored.
    if let Err(err) = build(
        &state.loader,
        &state.handlers_dir,
        &snapshot,
        Some(&current),
    )
    .await
    {
        return refused(err.reason(), err.to_string());
    }

    let notification = state.fleet.notification(&name);
    match store::push(&state.pool, &name, &bytes, &sha256, &spec, &notification).await {
        Ok(version) => {
            tracing::info!(handler.name = %name, handler.version = version, handler.sha256 = %sha256, "handler pushed");
            (
                StatusCode::CREATED,
                [(header::LOCATION, format!("/admin/handlers/{name}"))],
                Json(json!({
                    "name": name, "version": version, "sha256": sha256,
                    "routes": spec.routes, "database": spec.database,
                })),
            )
                .into_response()
        }
        Err(err) => store_failure(err),
    }
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
                ));
            }
        }
    }
    let notification = state.fleet.notification(&name);
    match store::rollback(&state.pool, &name, to, &notification).await {
        Ok(version) => {
            tracing::info!(handler.name = %name, handler.version = version, "handler rolled back");
            Json(json!({ "name": name, "version": version })).into_response()
        }
        Err(err) => store_failure(err),
    }
}
