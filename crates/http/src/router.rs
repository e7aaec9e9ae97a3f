//! The whole application: host routes first, handlers for everything
//! else, and the layers every request passes (request ids, tracing,
//! metrics, closing connections while draining).

use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::HeaderValue;
use http::header::{CONNECTION, CONTENT_TYPE};
use metrics::SharedString;
use tower_http::compression::predicate::{NotForContentType, Predicate, SizeAbove};
use tower_http::compression::{CompressionLayer, CompressionLevel};
use tower_http::request_id::{PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use geofn_telemetry::metrics::{self as m, status_class};

use crate::dispatch::{self, RouteLabel};
use crate::request_id::{MintRequestId, X_REQUEST_ID};
use crate::state::AppState;
use crate::{admin, health, map};

/// The whole application: host routes first, handlers for everything else.
pub fn router(state: AppState) -> Router {
    let mut router = Router::new()
        .route("/livez", get(health::livez))
        .route("/status", get(health::status))
        .route("/metrics", get(metrics))
        .route("/", get(map::root))
        .route("/map/{file}", get(map::asset));
    if admin::enabled(&state) {
        router = router.nest("/admin", admin::router(state.clone()));
    }
    router
        .fallback(dispatch::dispatch)
        .layer(compression())
        .layer(middleware::map_response_with_state(
            state.clone(),
            close_when_draining,
        ))
        .layer(middleware::from_fn(record))
        .layer(PropagateRequestIdLayer::new(X_REQUEST_ID.clone()))
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request| {
                let id = request
                    .headers()
                    .get(&X_REQUEST_ID)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                tracing::info_span!(
                    "request",
                    request.id = %id,
                    http.method = %request.method(),
                    http.path = %request.uri().path(),
                )
            }),
        )
        .layer(SetRequestIdLayer::new(
            X_REQUEST_ID.clone(),
            MintRequestId::default(),
        ))
        .with_state(state)
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

/// `GET /metrics`: Prometheus text format.
async fn metrics(State(state): State<AppState>) -> Response {
    let text = state.metrics.render();
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        text,
    )
        .into_response()
}

/// Counts and times every request by route template, handler and status class.
/// The labels share the route's and handler's names (`Arc<str>`) rather
/// than copying them: this runs on every request.
async fn record(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let matched = request.extensions().get::<MatchedPath>().cloned();
    let response = next.run(request).await;
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
    let status = SharedString::const_str(status_class(response.status().as_u16()));
    let labels = [("route", route), ("handler", handler), ("status", status)];
    metrics::counter!(m::HTTP_REQUESTS, &labels).increment(1);
    metrics::histogram!(m::HTTP_DURATION, &labels).record(started.elapsed().as_secs_f64());
    response
}

/// While draining, every answer closes its connection, so proxies stop
/// reusing connections to this replica before its listener closes: none is
/// idle in their pools when it does, and no request (a POST above all)
/// races a closing connection.
async fn close_when_draining(State(state): State<AppState>, mut response: Response) -> Response {
    if state.is_draining() {
        response
            .headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
    response
}
