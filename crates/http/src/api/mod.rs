//! `GET /api`: one OpenAPI 3.0 document for the whole service, the host's
//! own routes and every loaded handler's, composed from the route table
//! of the version serving now (a swap or a push changes it at once) and
//! what each handler's component says about its routes
//! (`geofn_contract::openapi`). The OGC landing page names it as its
//! `service-desc`, so GDAL, QGIS and OWSLib read it too.

mod compose;
mod refs;

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use geofn_contract::forwarded;
use geofn_handler_set::set::HandlerSet;
use http::HeaderMap;
use http::header::CONTENT_TYPE;
use serde_json::{Map, Value, json};

use crate::state::AppState;
use compose::{BEARER, Contribution, Document};
use refs::{PROBLEM_RESPONSE, PROBLEM_SCHEMA};

/// Media type of an OpenAPI 3.0 JSON document.
pub const MEDIA_TYPE: &str = "application/vnd.oai.openapi+json;version=3.0";

/// Paths the host answers before any handler could.
const HOST_PATHS: &[&str] = &["/api", "/livez", "/status", "/metrics"];

/// The last document composed, with the fingerprint of the handler set it
/// describes: composing walks every fragment (up to 256 KiB each), so a
/// client asking again and again costs a copy, not a composition.
static LAST: Mutex<Option<(String, Arc<Value>)>> = Mutex::new(None);

/// `GET /api`.
pub async fn document(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let set = state.registry.current();
    let cached = LAST.lock().ok().and_then(|last| {
        last.as_ref()
            .filter(|(f, _)| f == set.fingerprint())
            .map(|(_, d)| d.clone())
    });
    let composed = match cached {
        Some(document) => document,
        None => {
            let document = Arc::new(compose(&set));
            if let Ok(mut last) = LAST.lock() {
                *last = Some((set.fingerprint().to_owned(), document.clone()));
            }
            document
        }
    };
    let mut body = Value::clone(&composed);
    body["servers"] = json!([{ "url": base_url(&headers) }]);
    ([(CONTENT_TYPE, MEDIA_TYPE)], body.to_string()).into_response()
}

/// The document of `set`, but for its `servers`.
fn compose(set: &HandlerSet) -> Value {
    let mut handlers: Vec<_> = set.handlers().iter().collect();
    handlers.sort_by(|a, b| a.name.cmp(&b.name));
    let mut document = Document::default();
    host_operations(&mut document);
    for handler in &handlers {
        let contribution = Contribution {
            name: &handler.name,
            routes: &handler.routes,
            auth: &handler.auth,
            fragment: handler.embedded.openapi.as_ref(),
        };
        document.add_handler(&contribution, reserved);
    }
    let versions: Vec<Value> = handlers
        .iter()
        .map(|h| json!({ "name": &*h.name, "sha256": h.sha256 }))
        .collect();
    assemble(document, versions)
}

/// Whether the host answers `path` itself (a handler's route there is
/// never reached).
fn reserved(path: &str) -> bool {
    HOST_PATHS.contains(&path)
        || path == "/admin"
        || path.starts_with("/admin/")
        || path
            .strip_prefix("/map/")
            .is_some_and(|file| !file.contains('/'))
}

/// The routes the host answers, as clients use them.
fn host_operations(document: &mut Document) {
    let json_ok = |description: &str| {
        json!({ "description": description, "content": { "application/json": {
            "schema": { "type": "object" } } } })
    };
    let host = |id: &str, summary: &str, responses: Value| {
        json!({ "operationId": id, "summary": summary, "tags": ["host"],
                "responses": responses })
    };
    document.add_host(
        "get",
        "/livez",
        host(
            "livez",
            "Liveness: 200 while the process answers",
            json!({ "200": json_ok("Alive") }),
        ),
    );
    document.add_host(
        "get",
        "/status",
        host(
            "status",
            "Readiness: 200 when the database answers, 503 when it does not",
            json!({ "200": json_ok("Ready, with the handlers loaded"),
                    "503": { "$ref": PROBLEM_RESPONSE } }),
        ),
    );
    document.add_host(
        "get",
        "/metrics",
        host(
            "metrics",
            "Prometheus text (OpenMetrics with exemplars when asked)",
            json!({ "200": { "description": "Metrics", "content": {
                "text/plain": { "schema": { "type": "string" } },
                "application/openmetrics-text": { "schema": { "type": "string" } } } } }),
        ),
    );
    document.add_host(
        "get",
        "/api",
        host(
            "getApi",
            "This document: every route of the host and of each loaded handler",
            json!({ "200": { "description": "OpenAPI 3.0", "content": {
                MEDIA_TYPE: { "schema": { "type": "object" } } } } }),
        ),
    );
}

/// The whole document around the operations.
fn assemble(document: Document, versions: Vec<Value>) -> Value {
    let mut paths: Vec<(String, Value)> = document.paths.into_iter().collect();
    paths.sort_by(|a, b| a.0.cmp(&b.0));
    let mut components = document.components;
    let schemas = components.entry("schemas").or_insert_with(|| json!({}));
    schemas["Problem"] = json!({
        "type": "object",
        "description": "RFC 9457 problem details",
        "properties": {
            "type": { "type": "string" },
            "title": { "type": "string" },
            "status": { "type": "integer" },
            "detail": { "type": "string" },
            "instance": { "type": "string" },
        },
    });
    let responses = components.entry("responses").or_insert_with(|| json!({}));
    responses["Problem"] = json!({
        "description": "A problem document (RFC 9457): bad input, no such thing, a limit, a fault",
        "content": { "application/problem+json": { "schema": { "$ref": PROBLEM_SCHEMA } } },
    });
    if document.needs_bearer {
        components.insert(
            "securitySchemes".into(),
            json!({ BEARER: { "type": "http", "scheme": "bearer", "bearerFormat": "JWT" } }),
        );
    }
    let mut sorted_components: Vec<(String, Value)> = components.into_iter().collect();
    sorted_components.sort_by(|a, b| a.0.cmp(&b.0));
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "geofn",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Every route this geofn host serves now: its own, and each loaded \
                handler's (tagged with the handler's name), as the handler's component documents them.",
            "x-geofn-handlers": versions,
        },
        "servers": [],
        "paths": Map::from_iter(paths),
        "components": Map::from_iter(sorted_components),
    })
}

/// Scheme and authority as the client sees them (the guests' links use
/// the same rule).
fn base_url(headers: &HeaderMap) -> String {
    forwarded::base_url(|name| headers.get(name).and_then(|v| v.to_str().ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_answers_its_own_paths_first() {
        for path in ["/api", "/status", "/admin/handlers", "/map/app.js"] {
            assert!(reserved(path), "{path}");
        }
        for path in ["/", "/points", "/map/a/b", "/apis", "/administer"] {
            assert!(!reserved(path), "{path}");
        }
    }

    #[test]
    fn the_document_has_the_host_routes_and_the_problem_it_refers_to() {
        let mut document = Document::default();
        host_operations(&mut document);
        let whole = assemble(document, vec![]);
        assert_eq!(whole["openapi"], "3.0.3");
        assert!(whole["paths"]["/status"]["get"]["responses"]["503"].is_object());
        assert!(whole["components"]["responses"]["Problem"].is_object());
        assert!(whole["components"].get("securitySchemes").is_none());
    }
}
