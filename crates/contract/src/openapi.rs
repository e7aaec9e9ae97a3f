//! A handler's part of the service's one OpenAPI document: its operations
//! and the schemas they name, carried in its `.wasm` as a custom section
//! named [`SECTION`] holding JSON (the guest SDK's `handler_openapi!`
//! embeds it; `build.py` does for Python). The host serves `GET /api` from
//! every loaded handler's routes, filling in from the fragment what it says
//! about them; a handler without one still appears, with its routes' path
//! parameters and the problem answers every route can give.
//!
//! The fragment is an OpenAPI 3.0 document, or just its `paths` and
//! `components`; `paths` is keyed by the route's path as the manifest
//! writes it (`/regions/{id}`), so a route and its documentation are found
//! by the same name:
//!
//! ```json
//! { "paths": { "/regions/{id}": { "get": { "summary": "One region",
//!       "responses": { "200": { "$ref": "#/components/responses/Region" } } } } },
//!   "components": { "responses": { "Region": { "description": "…" } } } }
//! ```
//!
//! The host owns the rest: servers, security schemes (from `[auth]`), tags
//! and component names (each handler's are prefixed with its name, so two
//! handlers' `Point` schemas cannot collide).

use serde_json::{Map, Value};

/// Name of the custom section holding the fragment.
pub const SECTION: &str = "geofn-openapi";
/// Largest fragment accepted: documentation, not a payload. A hostile
/// handler's document is bounded like the rest of what it carries.
pub const MAX_BYTES: usize = 256 * 1024;
/// The component kinds a fragment may define; `securitySchemes` is the
/// host's, from each handler's `[auth]`.
pub const COMPONENT_KINDS: &[&str] = &[
    "schemas",
    "responses",
    "parameters",
    "examples",
    "requestBodies",
    "headers",
    "links",
    "callbacks",
];
/// The operations an OpenAPI 3.0 path item may hold, by lower-case method.
pub const OPERATION_METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// What a handler says about its operations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fragment {
    /// Path items by path template, as the manifest's routes write it.
    pub paths: Map<String, Value>,
    /// Components by kind, then by name (unprefixed).
    pub components: Map<String, Value>,
}

impl Fragment {
    /// Parses and checks the contents of a [`SECTION`] section.
    pub fn parse(section: &[u8]) -> Result<Self, String> {
        if section.len() > MAX_BYTES {
            return Err(format!(
                "{} bytes, more than the {MAX_BYTES} a fragment may have",
                section.len()
            ));
        }
        let document: Value =
            serde_json::from_slice(section).map_err(|e| format!("not JSON: {e}"))?;
        let Value::Object(mut document) = document else {
            return Err("not a JSON object".into());
        };
        let paths = match document.remove("paths") {
            None => Map::new(),
            Some(Value::Object(paths)) => paths,
            Some(_) => return Err("paths is not an object".into()),
        };
        for (path, item) in &paths {
            if !path.starts_with('/') {
                return Err(format!("path {path:?} does not start with /"));
            }
            if !item.is_object() {
                return Err(format!("path item {path:?} is not an object"));
            }
        }
        let components = match document.remove("components") {
            None => Map::new(),
            Some(Value::Object(components)) => components,
            Some(_) => return Err("components is not an object".into()),
        };
        for (kind, named) in &components {
            if !COMPONENT_KINDS.contains(&kind.as_str()) {
                return Err(format!(
                    "components.{kind} is not one a handler may define ({})",
                    COMPONENT_KINDS.join(", ")
                ));
            }
            let Value::Object(named) = named else {
                return Err(format!("components.{kind} is not an object"));
            };
            if let Some(name) = named.keys().find(|name| !valid_component_name(name)) {
                return Err(format!(
                    "components.{kind}.{name:?} is not a component name ([A-Za-z0-9._-]+)"
                ));
            }
        }
        Ok(Fragment { paths, components })
    }

    /// The operation it documents for `method` (any case) on `path`.
    pub fn operation(&self, method: &str, path: &str) -> Option<&Map<String, Value>> {
        self.paths
            .get(path)?
            .get(method.to_ascii_lowercase())?
            .as_object()
    }
}

/// OpenAPI's rule for component names.
fn valid_component_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_whole_document_or_its_paths_alone_will_do() {
        let whole = br#"{"openapi":"3.0.3","info":{"title":"x","version":"1"},
            "paths":{"/a/{id}":{"get":{"summary":"A"}}},
            "components":{"schemas":{"A.b-c_1":{"type":"object"}}}}"#;
        let fragment = Fragment::parse(whole).unwrap();
        assert_eq!(
            fragment.operation("GET", "/a/{id}").unwrap()["summary"],
            "A"
        );
        assert!(fragment.operation("POST", "/a/{id}").is_none());
        assert!(fragment.components["schemas"].get("A.b-c_1").is_some());
        assert_eq!(Fragment::parse(b"{}").unwrap(), Fragment::default());
    }

    #[test]
    fn what_the_host_cannot_use_is_refused_with_its_reason() {
        let cases: &[(&[u8], &str)] = &[
            (b"[1]", "not a JSON object"),
            (b"{\"paths\":", "not JSON"),
            (b"{\"paths\":[]}", "paths is not an object"),
            (b"{\"paths\":{\"a\":{}}}", "does not start with /"),
            (b"{\"paths\":{\"/a\":1}}", "not an object"),
            (
                b"{\"components\":{\"securitySchemes\":{}}}",
                "not one a handler may define",
            ),
            (
                b"{\"components\":{\"schemas\":{\"a b\":{}}}}",
                "not a component name",
            ),
        ];
        for (text, reason) in cases {
            let err = Fragment::parse(text).unwrap_err();
            assert!(err.contains(reason), "{err} (wanted {reason})");
        }
        let huge = format!("{{\"x\":\"{}\"}}", "a".repeat(MAX_BYTES));
        assert!(
            Fragment::parse(huge.as_bytes())
                .unwrap_err()
                .contains("more than")
        );
    }
}
