//! The whole application: host routes first, handlers for everything
//! else, and the layers every request passes (request ids, compression,
//! and one of ours for the span, cache rules, draining and metrics).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::header::{ACCEPT, CONNECTION, CONTENT_TYPE};
use http::{HeaderName, HeaderValue, Method, StatusCode};
use metrics::SharedString;
use tower_http::compression::predicate::{NotForContentType, Predicate, SizeAbove};
use tower_http::compression::{CompressionLayer, CompressionLevel};
use tower_http::request_id::{PropagateRequestIdLayer, SetRequestIdLayer};
use tracing::field::Empty;
use tracing::{Instrument, Span};

use geofn_telemetry::metrics::{self as m, status_class};
use geofn_telemetry::traces::RequestIds;
use geofn_telemetry::{exemplars, openmetrics, traces};

use crate::dispatch::{self, RouteLabel};
use crate::request_id::{MintRequestId, X_REQUEST_ID};
use crate::state::AppState;
use crate::{admin, api, caching, health, map, problem};

/// The proxies' record of the client, first entry first.
static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// W3C Trace Context: the caller's span, and vendors' state beside it.
static TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
static TRACESTATE: HeaderName = HeaderName::from_static("tracestate");

/// The whole application: host routes first, handlers for everything else.
pub fn router(state: AppState) -> Router {
    let mut router = Router::new()
        .route("/livez", get(health::livez))
        .route("/status", get(health::status))
        .route("/metrics", get(metrics))
        .route("/api", get(api::document))
        .route("/", get(map::root))
        .route("/map/{file}", get(map::asset));
    if admin::enabled(&state) {
        router = router.nest("/admin", admin::router(state.clone()));
    }
    router
        .method_not_allowed_fallback(problem::method_not_allowed)
        .fallback(dispatch::dispatch)
        // Inside compression: the tag is the handler's body's, not a codec's.
        .layer(middleware::from_fn_with_state(state.clone(), finish))
        .layer(compression())
        .layer(PropagateRequestIdLayer::new(X_REQUEST_ID.clone()))
        .layer(SetRequestIdLayer::new(
            X_REQUEST_ID.clone(),
            MintRequestId::default(),
        ))
        .with_state(state)
}

/// The span every log line of a request carries (`request.id`, method,
/// path); when traces are exported, also `trace_id` and `span_id`, and for
/// a sampled request its OpenTelemetry SERVER span, a child of the
/// caller's `traceparent`, named and completed by [`record`].
fn request_span(request: &Request) -> Span {
    let header = |name: &HeaderName| request.headers().get(name).and_then(|v| v.to_str().ok());
    let id = header(&X_REQUEST_ID).unwrap_or_default();
    if !traces::enabled() {
        return tracing::info_span!(
            "request",
            request.id = %id,
            http.request.method = %request.method(),
            url.path = %request.uri().path(),
        );
    }
    let decision = traces::decide(header(&TRACEPARENT), header(&TRACESTATE));
    let sampled = decision.sampled();
    let span = decision.start(|ids| {
        let RequestIds {
            trace_id, span_id, ..
        } = ids;
        if ids.exported {
            tracing::info_span!(
                target: traces::REQUEST_TARGET,
                "request",
                request.id = %id,
                http.request.method = %request.method(),
                url.path = %request.uri().path(),
                trace_id = %trace_id,
                span_id = %span_id,
                otel.kind = "server",
                otel.status_code = Empty,
                otel.status_description = Empty,
            )
        } else {
            tracing::info_span!(
                target: traces::REQUEST_TARGET,
                "request",
                request.id = %id,
                http.request.method = %request.method(),
                url.path = %request.uri().path(),
                trace_id = %trace_id,
                span_id = %span_id,
            )
        }
    });
    if sampled {
        let peer = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(peer)| peer.ip().to_string());
        // The original client as the first proxy saw it, else the peer.
        let client = header(&X_FORWARDED_FOR)
            .and_then(|list| list.split(',').next())
            .map(str::trim)
            .filter(|first| !first.is_empty())
            .map(str::to_owned)
            .or_else(|| peer.clone());
        let mut attributes = Vec::with_capacity(2);
        attributes.extend(client.map(|client| ("client.address", client.into())));
        attributes.extend(peer.map(|peer| ("network.peer.address", peer.into())));
        traces::set_attributes(&span, attributes);
    }
    span
}

/// A server error's log line. A 503 is load shed on purpose (admission,
/// the memory budget, a saturated instance pool) and counted on `/metrics`;
/// a line each, at ERROR, was thousands a second exactly when the CPU was
/// short (the closed-model ramp past its knee: 6,000 a second), so it is
/// DEBUG. Every other 5xx stays an ERROR line.
fn log_failure(status: StatusCode, latency: Duration) {
    let latency_ms = latency.as_millis() as u64;
    match status {
        StatusCode::SERVICE_UNAVAILABLE => {
            tracing::debug!(status = status.as_u16(), latency_ms, "response shed")
        }
        _ => tracing::error!(status = status.as_u16(), latency_ms, "response failed"),
    }
}

/// Bodies compressed when the client asks (`Accept-Encoding`: zstd, br,
/// gzip): a 300-point page shrinks 2.8–4×, a 10,000-feature page 4–6×.
/// Not below 1 KiB, where the frame costs more than it saves; not for
/// images, event streams, components, or a body a handler already encoded
/// (its `Content-Encoding` is kept). Each codec's fastest level: level 4
/// cost a 300-point page 24–33% of its throughput on loopback for at most
/// 29% fewer bytes (loadtest/compression.sh, docs/performance.md).
fn compression() -> CompressionLayer<impl Predicate> {
    let worth_it = SizeAbove::new(1024)
        .and(NotForContentType::IMAGES)
        .and(NotForContentType::SSE)
        .and(NotForContentType::GRPC)
        .and(NotForContentType::const_new("application/wasm"));
    CompressionLayer::new()
        .quality(CompressionLevel::Fastest)
        .compress_when(worth_it)
}

/// `GET /metrics`: Prometheus text format, or OpenMetrics (with the
/// latency buckets' exemplars) for a scraper that asks for it.
async fn metrics(State(state): State<AppState>, headers: http::HeaderMap) -> Response {
    let text = state.metrics.render();
    let open = headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(openmetrics::asked);
    if open {
        let text = openmetrics::from_prometheus(&text);
        return ([(CONTENT_TYPE, openmetrics::CONTENT_TYPE)], text).into_response();
    }
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        text,
    )
        .into_response()
}

/// What the host does around every request, in one layer (each layer of
/// its own wraps every poll of a request in more futures, and tower-http's
/// `TraceLayer` also entered its span at every poll of the body): the
/// request's span ([`request_span`]), the bounds on its head
/// ([`HeadLimits`](crate::head_limits::HeadLimits)), the cache rules
/// ([`caching::Conditional`]), `Connection: close` while draining, a log
/// line for a server error, and the request's metrics ([`record`]).
async fn finish(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let span = request_span(&request);
    let exported = traces::enabled() && traces::is_exported_request(&span);
    async move {
        let started = Instant::now();
        let matched = request.extensions().get::<MatchedPath>().cloned();
        let method = exported.then(|| request.method().clone());
        let response = match state.head_limits.problem(&request) {
            None => {
                let conditional = caching::Conditional::of(&request);
                conditional.answer(next.run(request).await).await
            }
            Some(problem) => problem.into_response(),
        };
        let response = close_when_draining(&state, response);
        if response.status().is_server_error() {
            log_failure(response.status(), started.elapsed());
        }
        record(started, matched, method, &response);
        response
    }
    .instrument(span)
    .await
}

/// Counts and times every request by route template, handler and status
/// class; completes the SERVER span of an exported request (`method` is
/// its method then). The labels share the route's and handler's names
/// (`Arc<str>`) rather than copying them: this runs on every request.
fn record(
    started: Instant,
    matched: Option<MatchedPath>,
    method: Option<Method>,
    response: &Response,
) {
    let (route, handler): (SharedString, SharedString) =
        match response.extensions().get::<RouteLabel>() {
            Some(label) => (label.route.clone().into(), label.handler.clone().into()),
            None => (
                matched.map_or(SharedString::const_str("unmatched"), |path| {
                    path.as_str().to_owned().into()
                }),
                SharedString::const_str("host"),
            ),
        };
    if let Some(method) = &method {
        complete_server_span(method, &route, handler.as_ref(), response.status());
    }
    let status = SharedString::const_str(status_class(response.status().as_u16()));
    let seconds = started.elapsed().as_secs_f64();
    if method.is_some()
        && let Some(trace_id) = traces::trace_id(&Span::current())
    {
        let series = exemplars::Series {
            route: route.to_string(),
            handler: handler.to_string(),
            status: status.to_string(),
        };
        exemplars::record(series, seconds, trace_id);
    }
    let labels = [("route", route), ("handler", handler), ("status", status)];
    metrics::counter!(m::HTTP_REQUESTS, &labels).increment(1);
    metrics::histogram!(m::HTTP_DURATION, &labels).record(seconds);
}

/// Names the request's SERVER span by its route template (`GET
/// /points/{id}`, OpenTelemetry's low-cardinality name) and marks a 5xx as
/// an error; 4xx are the client's, not the server's, as the HTTP
/// conventions say.
fn complete_server_span(method: &Method, route: &str, handler: &str, status: StatusCode) {
    let span = Span::current();
    let mut attributes = vec![("http.response.status_code", status.as_u16().into())];
    if handler != "host" || route != "unmatched" {
        attributes.push(("http.route", route.to_owned().into()));
        traces::rename(&span, format!("{method} {route}"));
    } else {
        traces::rename(&span, method.to_string());
    }
    traces::set_attributes(&span, attributes);
    if status.is_server_error() {
        span.record("otel.status_code", "error");
    }
}

/// While draining, every answer closes its connection, so proxies stop
/// reusing connections to this replica before its listener closes: none is
/// idle in their pools when it does, and no request (a POST above all)
/// races a closing connection.
fn close_when_draining(state: &AppState, mut response: Response) -> Response {
    if state.is_draining() {
        response
            .headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
    response
}
