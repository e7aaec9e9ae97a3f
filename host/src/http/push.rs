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
use crate::fleet::store::{self, StoreError};
use crate::registry::load::{ComponentFile, hex};
use crate::registry::manifest::{HandlerSpec, parse_route, valid_name};
use crate::registry::{build, read_snapshot};
use crate::runtime::limits::LimitOverrides;
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

/// Routes (`route=GET /x`, repeated) and limits from the query string.
fn parse_query(query: &str) -> Result<(Vec<String>, LimitOverrides), String> {
    let mut routes = Vec::new();
    let mut limits: BTreeMap<String, u64> = BTreeMap::new();
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        if key == "route" {
            if parse_route(&value).is_none() {
                return Err(format!("route {value:?} is not \"METHOD /path\""));
            }
            routes.push(value.into_owned());
        } else {
            let number = value
                .parse()
                .map_err(|_| format!("{key} must be a whole number, got {value:?}"))?;
            limits.insert(key.into_owned(), number);
        }
    }
    let limits: LimitOverrides =
        serde_json::from_value(json!(limits)).map_err(|e| format!("unknown or bad limit: {e}"))?;
    Ok((routes, limits))
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
    let (mut routes, limits) = match parse_query(query.as_deref().unwrap_or_default()) {
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
    if routes.is_empty() {
        match current.handlers().iter().find(|h| *h.name == *name) {
            Some(handler) => routes = handler.routes.clone(),
            None => return bad(format!("{name} is new: give its routes (route=GET /path)")),
        }
    }
    let limits_applied = state.default_limits.with(limits);
    if limits_applied.memory_bytes > state.runtime.max_memory_bytes() {
        return refused(
            "memory-above-ceiling",
            format!(
                "memory limit above this host's ceiling of {} bytes",
                state.runtime.max_memory_bytes()
            ),
        );
    }

    // Would it load? Compile it, check the world, and build the whole set
    // it would make (route conflicts), exactly as every replica will.
    let bytes: Arc<[u8]> = Arc::from(&bytes[..]);
    let sha256 = hex(&Sha256::digest(&bytes));
    let compiled = {
        let (runtime, bytes) = (state.runtime.clone(), bytes.clone());
        tokio::task::spawn_blocking(move || runtime.prepare(&bytes).map(drop))
            .await
            .expect("compilation task panicked")
    };
    if let Err(err) = compiled {
        return refused(err.reason(), err.to_string());
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
            routes: routes.clone(),
            limits,
        },
    );
    if let Err(err) = build(
        &state.runtime,
        &state.handlers_dir,
        &snapshot,
        state.default_limits,
        Some(&current),
    )
    .await
    {
        return refused(err.reason(), err.to_string());
    }

    match store::push(&state.pool, &name, &bytes, &sha256, &routes, &limits).await {
        Ok(version) => {
            tracing::info!(handler.name = %name, handler.version = version, handler.sha256 = %sha256, "handler pushed");
            (
                StatusCode::CREATED,
                [(header::LOCATION, format!("/admin/handlers/{name}"))],
                Json(
                    json!({ "name": name, "version": version, "sha256": sha256, "routes": routes }),
                ),
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
    match store::rollback(&state.pool, &name, to).await {
        Ok(version) => {
            tracing::info!(handler.name = %name, handler.version = version, "handler rolled back");
            Json(json!({ "name": name, "version": version })).into_response()
        }
        Err(err) => store_failure(err),
    }
}
