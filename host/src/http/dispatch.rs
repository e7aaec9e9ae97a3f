//! Every route not answered by the host itself: find the handler, enforce
//! the body limit, call the component, translate its answer.

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::header::{CONNECTION, CONTENT_LENGTH, TRANSFER_ENCODING};
use http::{HeaderName, HeaderValue, Method, StatusCode};

use super::problem::Problem;
use crate::bindings;
use crate::registry::RouteMatch;
use crate::runtime::CallError;
use crate::state::AppState;

/// Seconds a client should wait before retrying a 503.
const RETRY_AFTER_SECS: u32 = 1;

/// The fallback handler of the router.
pub async fn dispatch(State(state): State<AppState>, request: Request) -> Response {
    let set = state.registry.current();
    let method = request.method().clone();
    let handler = match set.route(&method, request.uri().path()) {
        RouteMatch::Found(handler) => handler,
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

    let guest_request = bindings::Request {
        method: parts.method.as_str().to_owned(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or_default().to_owned(),
        headers: parts
            .headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: body.to_vec(),
    };

    let result = state
        .runtime
        .call(
            handler.name.clone(),
            &handler.pre,
            &handler.limits,
            state.pool.clone(),
            guest_request,
        )
        .await;
    match result {
        Ok(response) => into_http(&handler.name, response, method == Method::HEAD),
        Err(err) => failure(&handler.name, err),
    }
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

/// Turns the guest's response into an HTTP one; a malformed response (bad
/// status or header) is the handler's bug and becomes a 500.
fn into_http(handler: &str, response: bindings::Response, head: bool) -> Response {
    let Ok(status) = StatusCode::from_u16(response.status) else {
        tracing::error!(
            handler.name = handler,
            status = response.status,
            "invalid status from handler"
        );
        return handler_failed(handler, "the handler returned an invalid status code");
    };
    let mut out = if head {
        Response::new(Body::empty())
    } else {
        Response::new(Body::from(response.body))
    };
    *out.status_mut() = status;
    for (name, value) in response.headers {
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) else {
            tracing::error!(handler.name = handler, header = %name, "invalid header from handler");
            return handler_failed(handler, "the handler returned an invalid header");
        };
        // Framing is the host's job; a handler cannot get it wrong.
        if name == CONTENT_LENGTH || name == TRANSFER_ENCODING || name == CONNECTION {
            continue;
        }
        out.headers_mut().append(name, value);
    }
    out
}
