//! Each loaded handler's routes as OpenAPI operations: what its fragment
//! says about them, checked against what the route table really serves,
//! with what only the host knows (path parameters, token requirements,
//! the problem answers every route can give) filled in.

use std::collections::BTreeSet;

use geofn_contract::auth::{AuthPolicy, Requirement};
use geofn_contract::openapi::{Fragment, OPERATION_METHODS};
use geofn_contract::route::{Route, parse_route};
use serde_json::{Map, Value, json};

use super::refs::{PROBLEM_RESPONSE, defined_components, prefix_refs};

/// The security scheme every route with a token requirement names.
pub const BEARER: &str = "bearerAuth";

/// What one handler brings to the document.
pub struct Contribution<'a> {
    /// Its name: the operations' tag and its components' prefix.
    pub name: &'a str,
    /// The routes it serves, "METHOD /path".
    pub routes: &'a [String],
    /// Which of them need a token.
    pub auth: &'a AuthPolicy,
    /// What it says about them, if anything.
    pub fragment: Option<&'a Fragment>,
}

/// The document's `paths` and `components` being filled.
#[derive(Default)]
pub struct Document {
    /// Path items by OpenAPI path template.
    pub paths: Map<String, Value>,
    /// Components by kind and (prefixed) name.
    pub components: Map<String, Value>,
    /// Whether any operation needs a bearer token.
    pub needs_bearer: bool,
    operation_ids: BTreeSet<String>,
}

impl Document {
    /// Adds an operation the host itself answers.
    pub fn add_host(&mut self, method: &str, path: &str, operation: Value) {
        if let Some(id) = operation["operationId"].as_str() {
            self.operation_ids.insert(id.to_owned());
        }
        insert(&mut self.paths, path, method, operation);
    }

    /// Adds a handler's routes, and the components its fragment defines.
    /// Routes whose path the host answers itself (`reserved`) are left
    /// out: no request ever reaches the handler there.
    pub fn add_handler(&mut self, handler: &Contribution<'_>, reserved: impl Fn(&str) -> bool) {
        let defined = handler.fragment.map(defined_components).unwrap_or_default();
        // Components first: operations' parameters may refer to them.
        if let Some(fragment) = handler.fragment {
            for (kind, named) in &fragment.components {
                let target = self
                    .components
                    .entry(kind.clone())
                    .or_insert_with(|| json!({}));
                for (name, component) in named.as_object().into_iter().flatten() {
                    let mut component = component.clone();
                    prefix_refs(&mut component, handler.name, &defined);
                    target[format!("{}.{name}", handler.name)] = component;
                }
            }
        }
        for route in handler.routes.iter().filter_map(|r| parse_route(r)) {
            let method = route.method.to_ascii_lowercase();
            if !OPERATION_METHODS.contains(&method.as_str()) || reserved(&route.path) {
                continue;
            }
            let documented = handler
                .fragment
                .and_then(|f| f.operation(&method, &route.path));
            let path_item = handler.fragment.and_then(|f| f.paths.get(&route.path));
            let mut operation = match documented {
                Some(operation) => {
                    let mut operation = Value::Object(operation.clone());
                    prefix_refs(&mut operation, handler.name, &defined);
                    operation
                }
                None => undocumented(handler.name, &route),
            };
            let mut shared = path_item
                .and_then(|item| item.get("parameters"))
                .cloned()
                .unwrap_or(Value::Null);
            prefix_refs(&mut shared, handler.name, &defined);
            let requirement = handler.auth.requirement(&route);
            self.complete(&mut operation, handler.name, &route, shared, &requirement);
            insert(
                &mut self.paths,
                &openapi_path(&route.path),
                &method,
                operation,
            );
        }
    }

    /// What every operation carries whatever its fragment says: the
    /// handler's tag, a unique operation id, every path parameter, the
    /// problem answer and, for routes that need one, the token.
    fn complete(
        &mut self,
        operation: &mut Value,
        handler: &str,
        route: &Route,
        shared: Value,
        requirement: &Requirement,
    ) {
        let Value::Object(op) = operation else {
            *operation = undocumented(handler, route);
            return self.complete(operation, handler, route, shared, requirement);
        };
        let mut tags: Vec<Value> = vec![handler.into()];
        if let Some(Value::Array(own)) = op.get("tags") {
            tags.extend(
                own.iter()
                    .filter(|t| t.is_string() && **t != handler)
                    .cloned(),
            );
        }
        op.insert("tags".into(), tags.into());
        let wanted = op
            .get("operationId")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| slug(handler, route));
        let id = if self.operation_ids.contains(&wanted) {
            format!("{handler}.{wanted}")
        } else {
            wanted
        };
        self.operation_ids.insert(id.clone());
        op.insert("operationId".into(), id.into());
        op.insert("x-geofn-handler".into(), handler.into());

        let mut parameters: Vec<Value> = match op.remove("parameters") {
            Some(Value::Array(list)) => list,
            _ => Vec::new(),
        };
        let key = |p: &Value| {
            let p = self.resolve(p);
            (p["name"].clone(), p["in"].clone())
        };
        if let Value::Array(shared) = shared {
            let own: Vec<_> = parameters.iter().map(key).collect();
            parameters.extend(shared.into_iter().filter(|p| !own.contains(&key(p))));
        }
        for name in path_parameters(&route.path) {
            let documented = parameters.iter().any(|p| {
                let p = self.resolve(p);
                p["in"] == "path" && p["name"] == name
            });
            if !documented {
                parameters.push(json!({ "name": name, "in": "path", "required": true,
                    "schema": { "type": "string" } }));
            }
        }
        if !parameters.is_empty() {
            op.insert("parameters".into(), parameters.into());
        }

        // What a client would act on elsewhere, or cannot read at all, goes:
        // servers of its own, and parts that are not the shape they must be.
        op.remove("servers");
        if op.get("requestBody").is_some_and(|body| !body.is_object()) {
            op.remove("requestBody");
        }
        if !op.get("responses").is_some_and(Value::is_object) {
            op.insert(
                "responses".into(),
                json!({ "2XX": { "description": "The handler's answer" } }),
            );
        }
        let responses = op.entry("responses").or_insert_with(|| json!({}));
        if let Value::Object(responses) = responses {
            responses
                .entry("default")
                .or_insert_with(|| json!({ "$ref": PROBLEM_RESPONSE }));
            if requirement.token {
                for status in ["401", "403"] {
                    responses
                        .entry(status)
                        .or_insert_with(|| json!({ "$ref": PROBLEM_RESPONSE }));
                }
            }
        }
        if requirement.token {
            self.needs_bearer = true;
            op.insert("security".into(), json!([{ BEARER: requirement.scopes }]));
        } else {
            op.remove("security");
        }
    }
}

impl Document {
    /// A parameter, or the component its `$ref` names.
    fn resolve<'a>(&'a self, parameter: &'a Value) -> &'a Value {
        parameter["$ref"]
            .as_str()
            .and_then(|target| target.strip_prefix("#/components/parameters/"))
            .and_then(|name| self.components.get("parameters")?.get(name))
            .unwrap_or(parameter)
    }
}

/// A route its handler documents nothing about: what the route table
/// alone tells.
fn undocumented(handler: &str, route: &Route) -> Value {
    let mut operation = json!({
        "summary": format!("{} {}", route.method, route.path),
        "description": format!("Served by the handler {handler:?}, whose component documents no more of this route."),
    });
    if matches!(route.method.as_str(), "POST" | "PUT" | "PATCH") {
        operation["requestBody"] = json!({ "required": false,
            "content": { "application/octet-stream": { "schema": { "type": "string", "format": "binary" } } } });
    }
    operation
}

/// The path parameters of a route template: `{id}` and catch-all `{*rest}`.
pub fn path_parameters(path: &str) -> Vec<String> {
    path.split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}'))
        .map(|(name, _)| name.trim_start_matches('*').to_owned())
        .collect()
}

/// A route template in OpenAPI's syntax (`{*rest}` is `{rest}` there).
pub fn openapi_path(path: &str) -> String {
    path.replace("{*", "{")
}

/// `regions.get./regions/{id}` → `regions_get_regions_id`: stable and unique.
fn slug(handler: &str, route: &Route) -> String {
    let words: Vec<&str> = route
        .path
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|word| !word.is_empty())
        .collect();
    format!(
        "{handler}_{}_{}",
        route.method.to_ascii_lowercase(),
        words.join("_")
    )
}

fn insert(paths: &mut Map<String, Value>, path: &str, method: &str, operation: Value) {
    let item = paths.entry(path.to_owned()).or_insert_with(|| json!({}));
    item[method] = operation;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fragment(text: &str) -> Fragment {
        Fragment::parse(text.as_bytes()).unwrap()
    }

    #[test]
    fn a_route_without_a_fragment_still_has_its_parameters_and_problems() {
        let mut document = Document::default();
        let routes = vec!["PUT /things/{id}/{*rest}".to_owned()];
        let auth = AuthPolicy {
            scopes: [(
                "PUT /things/{id}/{*rest}".to_owned(),
                vec!["write".to_owned()],
            )]
            .into(),
            ..AuthPolicy::default()
        };
        let handler = Contribution {
            name: "things",
            routes: &routes,
            auth: &auth,
            fragment: None,
        };
        document.add_handler(&handler, |_| false);
        let op = &document.paths["/things/{id}/{rest}"]["put"];
        let names: Vec<&str> = op["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["id", "rest"]);
        assert_eq!(op["tags"], json!(["things"]));
        assert_eq!(op["security"], json!([{ BEARER: ["write"] }]));
        assert_eq!(op["responses"]["401"]["$ref"], PROBLEM_RESPONSE);
        assert!(op["requestBody"].is_object());
        assert!(document.needs_bearer);
    }

    #[test]
    fn a_fragment_documents_only_what_is_routed_and_its_names_are_its_own() {
        let mut document = Document::default();
        let routes = vec!["GET /a/{id}".to_owned(), "GET /livez".to_owned()];
        let auth = AuthPolicy::default();
        let text = r##"{"paths": {
              "/a/{id}": {"parameters": [{"name": "f", "in": "query", "schema": {"type": "string"}}],
                          "get": {"operationId": "getA", "security": [{"x": []}],
                                  "parameters": [{"$ref": "#/components/parameters/id"}],
                                  "responses": {"200": {"$ref": "#/components/responses/A"}}}},
              "/unrouted": {"get": {"summary": "not served"}}},
            "components": {
              "parameters": {"id": {"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}},
              "responses": {"A": {"description": "an A",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Missing"}}}}}}}"##;
        let one = fragment(text);
        let handler = Contribution {
            name: "one",
            routes: &routes,
            auth: &auth,
            fragment: Some(&one),
        };
        document.add_handler(&handler, |path| path == "/livez");
        let other = Contribution {
            name: "two",
            ..handler
        };
        let routes_two = vec!["GET /b/{id}".to_owned()];
        let other = Contribution {
            routes: &routes_two,
            ..other
        };
        document.add_handler(&other, |_| false);

        assert!(document.paths.get("/unrouted").is_none());
        assert!(document.paths.get("/livez").is_none());
        let op = &document.paths["/a/{id}"]["get"];
        assert_eq!(op["operationId"], "getA");
        assert!(
            op.get("security").is_none(),
            "the host says who needs a token"
        );
        assert_eq!(
            op["responses"]["200"]["$ref"],
            "#/components/responses/one.A"
        );
        let parameters = op["parameters"].as_array().unwrap();
        assert_eq!(
            parameters.len(),
            2,
            "f and the referenced id: {parameters:?}"
        );
        assert_eq!(parameters[0]["$ref"], "#/components/parameters/one.id");
        let a = &document.components["responses"]["one.A"];
        assert!(
            a["content"]["application/json"]["schema"]
                .get("$ref")
                .is_none()
        );
        assert!(document.components["responses"].get("two.A").is_some());

        // A hostile operation: its own servers, responses that are not an object.
        let routes = vec!["GET /c".to_owned()];
        let hostile = fragment(
            r#"{"paths": {"/c": {"get": {"servers": [{"url": "https://elsewhere"}],
                "responses": 5, "requestBody": []}}}}"#,
        );
        let three = Contribution {
            name: "three",
            routes: &routes,
            auth: &auth,
            fragment: Some(&hostile),
        };
        document.add_handler(&three, |_| false);
        let op = &document.paths["/c"]["get"];
        assert!(
            op.get("servers").is_none() && op.get("requestBody").is_none(),
            "{op}"
        );
        assert_eq!(op["responses"]["default"]["$ref"], PROBLEM_RESPONSE);
        assert_eq!(
            document.paths["/b/{id}"]["get"]["operationId"],
            "two_get_b_id"
        );
    }
}
