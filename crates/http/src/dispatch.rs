//! Every route not answered by the host itself: find the handler, enforce
//! the body limit, call the component, translate its answer.

use axum::body::to_bytes;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::header::CONTENT_LENGTH;
use http::{Method, StatusCode};

use geofn_db::replica::ReadTarget;
use geofn_db::session::ReadPlan;
use std::sync::Arc;

use geofn_auth::identity::Identity;
use geofn_handler_set::set::{Found, LoadedHandler, RouteMatch};
use geofn_runtime::bindings::Matched;
use geofn_runtime::limits::CONCURRENCY_WAIT;
use geofn_runtime::reuse::Lease;
use geofn_runtime::{CallError, CallInputs};
use geofn_telemetry::metrics as m;
use geofn_telemetry::traces;
use tracing::field::Empty;

use crate::problem::Problem;
use crate::state::AppState;
use crate::{caller, consistency, convert};

/// Which route and handler answered: set here, read by the metrics layer.
#[derive(Debug, Clone)]
pub struct RouteLabel {
    /// The route template, e.g. `/points/{id}`.
    pub route: std::sync::Arc<str>,
    /// The handler's name.
    pub handler: std::sync::Arc<str>,
}

/// Seconds a client should wait before retrying a 503.
const RETRY_AFTER_SECS: u32 = 1;

/// The fallback handler of the router.
pub async fn dispatch(State(state): State<AppState>, request: Request) -> Response {
    let _admitted = match state.admission.admit().await {
        Ok(admitted) => admitted,
        Err(refused) => {
            metrics::counter!(m::ADMISSION_REJECTED).increment(1);
            let span = tracing::Span::current();
            if traces::is_exported_request(&span) {
                span.record(
                    "otel.status_description",
                    "refused: no slot under the replica's in-flight bound in time",
                );
            }
            return Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "overloaded",
                "Overloaded",
                refused.to_string(),
            )
            .retry_after(RETRY_AFTER_SECS)
            .into_response();
        }
    };
    let set = state.registry.current();
    let method = request.method().clone();
    let found = match set.route(&method, request.uri().path()) {
        RouteMatch::Found(found) => found,
        RouteMatch::NotFound => {
            return Problem::new(
                StatusCode::NOT_FOUND,
                "not-found",
                "Not found",
                format!("no route for {}", request.uri().path()),
            )
            .into_response();
        }
        RouteMatch::MethodNotAllowed(allowed) => {
            let allow = allowed
                .iter()
                .map(Method::as_str)
                .collect::<Vec<_>>()
                .join(", ");
            return Problem::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
                format!("{method} is not allowed here; allowed: {allow}"),
            )
            .allow(allow)
            .into_response();
        }
    };

    let Found {
        handler,
        template,
        params,
        requirement,
    } = found;
    let label = RouteLabel {
        route: template.clone(),
        handler: handler.name.clone(),
    };
    // Before the body is read and before any instance exists.
    let authorization = request.headers().get(http::header::AUTHORIZATION);
    let identity = match caller::check(&state, &handler.name, authorization, &requirement).await {
        Ok(identity) => identity,
        Err(refused) => {
            let mut response = refused;
            response.extensions_mut().insert(label);
            return response;
        }
    };
    let matched = Matched {
        template: template.to_string(),
        params,
    };
    let mut response = run_handler(&state, &handler, matched, identity, request).await;
    response.extensions_mut().insert(label);
    response
}

/// The body limit, then the call, then the guest's answer as HTTP.
pub(crate) async fn run_handler(
    state: &AppState,
    handler: &LoadedHandler,
    route: Matched,
    identity: Option<Arc<Identity>>,
    request: Request,
) -> Response {
    let method = request.method().clone();
    let limit = handler.limits.body_bytes;
    let (parts, body) = request.into_parts();
    let declared = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return too_large(limit);
    }
    let Ok(body) = to_bytes(body, limit).await else {
        return too_large(limit);
    };

    let guest_request = convert::guest_request(&parts, &body);

    let reads = match read_plan(state, handler, &method, &parts.headers) {
        Ok(reads) => reads,
        Err(bad) => {
            return Problem::new(
                StatusCode::BAD_REQUEST,
                "bad-read-token",
                "Bad read-your-writes token",
                bad.to_string(),
            )
            .into_response();
        }
    };
    // Waiting for a turn or for memory, as one span when traces are
    // exported: begun at the first wait, ended when both are had (or one
    // is refused); a request that waits for neither has none.
    let mut admission = None;
    // Its turn, for a handler with `max_concurrency`: held to the answer.
    let _turn = match &handler.turns {
        Some(turns) => match turns.clone().try_acquire_owned() {
            Ok(turn) => Some(turn),
            Err(_) => {
                let waiting = admission.get_or_insert_with(|| admission_span(handler));
                let turn = tokio::time::timeout(CONCURRENCY_WAIT, turns.clone().acquire_owned());
                match turn.await {
                    Ok(Ok(turn)) => Some(turn),
                    _ => {
                        refused(waiting, "no turn under max_concurrency in time");
                        return no_turn(handler);
                    }
                }
            }
        },
        None => None,
    };
    // A parked instance, for a handler that reuses them.
    let mut lease = handler.reuse.as_ref().map(|reuse| reuse.take());
    // Room in the memory budget for a new instance, held until it is gone
    // (a parked instance holds its own).
    let reservation = if lease.as_ref().is_none_or(Lease::needs_reservation) {
        let bytes = handler.limits.memory_bytes;
        let reserved = match handler.memory.try_reserve(bytes) {
            Some(reservation) => Ok(reservation),
            None => {
                admission.get_or_insert_with(|| admission_span(handler));
                handler.memory.reserve(bytes).await
            }
        };
        match reserved {
            Ok(reservation) => Some(reservation),
            Err(over) => {
                if let Some(waiting) = &admission {
                    refused(waiting, &over.to_string());
                }
                return Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "memory-budget",
                    "Overloaded",
                    format!("{over}; retry shortly"),
                )
                .retry_after(RETRY_AFTER_SECS)
                .into_response();
            }
        }
    } else {
        None
    };
    drop(admission);
    let inputs = CallInputs {
        limits: &handler.limits,
        db: &handler.db,
        reads,
        route,
        identity,
        version: &handler.sha256,
        variables: handler.variables.clone(),
        outbound: handler.outbound.clone(),
    };
    let runtime = state.runtime();
    let result = match (&handler.reuse, lease.take()) {
        (Some(reuse), Some(mut lease)) => {
            let warm = lease.warm.take();
            if let Some(reservation) = reservation {
                lease = lease.with_reservation(reservation);
            }
            let called = runtime
                .call_keeping(
                    handler.name.clone(),
                    &handler.pre,
                    inputs,
                    guest_request,
                    warm,
                    true,
                )
                .await;
            reuse.give_back(lease, called.warm);
            called.result
        }
        _ => {
            let _reservation = reservation;
            runtime
                .call(handler.name.clone(), &handler.pre, inputs, guest_request)
                .await
        }
    };
    match result {
        Ok(answer) => match convert::http_response(answer.response) {
            Ok(mut response) => {
                if let (Some(written_at), Some(router)) = (answer.written_at, &state.reads) {
                    consistency::attach(&mut response, written_at, router.max_lag());
                }
                response
            }
            Err(why) => {
                tracing::error!(handler.name = %handler.name, error = %why, "malformed response from handler");
                handler_failed(&handler.name, &format!("the handler returned {why}"))
            }
        },
        Err(err) => failure(&handler.name, err),
    }
}

/// Where this request's reads go: a GET or HEAD to the read replica when
/// there is one that has what its client last wrote (else to the primary,
/// the reason counted); everything else to the primary.
fn read_plan(
    state: &AppState,
    handler: &LoadedHandler,
    method: &Method,
    headers: &http::HeaderMap,
) -> Result<ReadPlan, consistency::BadToken> {
    let read_request = method == Method::GET || method == Method::HEAD;
    let Some(router) = &state.reads else {
        return Ok(ReadPlan {
            read_request,
            ..ReadPlan::default()
        });
    };
    let token = consistency::presented(headers)?;
    let on_replica = read_request
        && handler.db.replica.is_some()
        && match router.target(token) {
            ReadTarget::Replica => true,
            ReadTarget::Primary(reason) => {
                reason.count();
                false
            }
        };
    Ok(ReadPlan {
        read_request,
        on_replica,
        track_writes: true,
    })
}

/// A 503 for a request that found no turn under its handler's
/// `max_concurrency` in time.
fn no_turn(handler: &LoadedHandler) -> Response {
    metrics::counter!(m::CONCURRENCY_REJECTED, "handler" => handler.name.to_string()).increment(1);
    Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "concurrency",
        "Overloaded",
        format!(
            "{} runs at most {} requests at once and none finished in time; retry shortly",
            handler.name,
            handler.limits.max_concurrency.unwrap_or_default()
        ),
    )
    .retry_after(RETRY_AFTER_SECS)
    .into_response()
}

/// The span of a request waiting for its handler's turn or memory.
fn admission_span(handler: &LoadedHandler) -> tracing::Span {
    tracing::info_span!(
        target: traces::TARGET,
        "admission",
        geofn.handler.name = &*handler.name,
        otel.status_code = Empty,
        otel.status_description = Empty,
    )
}

/// Marks the admission span as refused, with why.
fn refused(admission: &tracing::Span, why: &str) {
    admission.record("otel.status_code", "error");
    admission.record("otel.status_description", why);
}

fn too_large(limit: usize) -> Response {
    Problem::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body-too-large",
        "Request body too large",
        format!("the request body exceeds this route's limit of {limit} bytes"),
    )
    .into_response()
}

fn failure(handler: &str, err: CallError) -> Response {
    match err {
        CallError::Deadline(limit) => {
            tracing::warn!(handler.name = handler, error = %err, "handler deadline");
            Problem::new(
                StatusCode::GATEWAY_TIMEOUT,
                "handler-timeout",
                "Handler timed out",
                format!(
                    "the {handler} handler did not answer within {} ms",
                    limit.as_millis()
                ),
            )
            .into_response()
        }
        CallError::Saturated(_) => {
            tracing::warn!(handler.name = handler, error = %err, "instance pool exhausted");
            Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "overloaded",
                "Overloaded",
                "every handler instance slot is busy; retry shortly",
            )
            .retry_after(RETRY_AFTER_SECS)
            .into_response()
        }
        CallError::Trap(_) => {
            tracing::error!(handler.name = handler, error = %err, "handler trapped");
            handler_failed(handler, "the handler failed while answering this request")
        }
    }
}

fn handler_failed(handler: &str, detail: &str) -> Response {
    Problem::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "handler-failed",
        "Handler failed",
        format!("{handler}: {detail}"),
    )
    .into_response()
}
