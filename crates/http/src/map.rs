//! The web page at `/` for browsers: a map of the points' vector tiles
//! with MapLibre GL JS over Natural Earth land, all embedded in the binary
//! (no CDN; the tiles come from the tiles handler). API clients asking `/` for JSON still get the OGC API landing
//! page from the features handler.

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::header::{ACCEPT, CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use http::{HeaderName, HeaderValue, StatusCode};

use crate::dispatch;
use crate::problem::Problem;
use crate::state::AppState;

/// Only our own scripts, styles and data; no inline code, no framing, no
/// forms posting anywhere (the page posts with fetch). MapLibre's CSP build
/// runs its worker from our own URL, never from a `blob:`.
pub const CSP: &str = "default-src 'none'; script-src 'self'; worker-src 'self'; \
                       style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; \
                       form-action 'none'; frame-ancestors 'none'";
/// Vendored files change only with a new binary; an hour is safe.
const ASSET_CACHE: &str = "public, max-age=3600";

const INDEX: &str = include_str!("../assets/map/index.html");
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/map/app.js"),
    ),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("../assets/map/app.css"),
    ),
    (
        "maplibre-gl.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/vendor/maplibre-gl/maplibre-gl-csp.js"),
    ),
    (
        "maplibre-gl-csp-worker.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/vendor/maplibre-gl/maplibre-gl-csp-worker.js"),
    ),
    (
        "maplibre-gl.css",
        "text/css; charset=utf-8",
        include_bytes!("../assets/vendor/maplibre-gl/maplibre-gl.css"),
    ),
    (
        "land.geojson",
        "application/geo+json",
        include_bytes!("../assets/vendor/natural-earth/land-110m.geojson"),
    ),
];

/// `GET /`: the map for browsers, the OGC landing page for everyone else.
pub async fn root(state: State<AppState>, request: Request) -> Response {
    let wants_html = request
        .headers()
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    if !wants_html {
        return dispatch::dispatch(state, request).await;
    }
    let mut response = ([(CONTENT_TYPE, "text/html; charset=utf-8")], INDEX).into_response();
    secure(&mut response);
    response
}

/// `GET /map/{file}`: the page's scripts, styles and coastlines.
pub async fn asset(axum::extract::Path(file): axum::extract::Path<String>) -> Response {
    match ASSETS.iter().find(|(name, _, _)| *name == file) {
        Some((_, media, body)) => {
            let mut response = (
                [(CONTENT_TYPE, *media), (CACHE_CONTROL, ASSET_CACHE)],
                *body,
            )
                .into_response();
            secure(&mut response);
            response
        }
        None => Problem::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "Not found",
            format!("the map has no file {file:?}"),
        )
        .into_response(),
    }
}

fn secure(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(
        HeaderName::from_static("x-content-type-options"),
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        HeaderName::from_static("referrer-policy"),
        HeaderValue::from_static("no-referrer"),
    );
}
