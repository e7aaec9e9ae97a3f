//! A handler's authentication policy, declared with it: which of its routes
//! need a verified bearer token, and which scopes that token must carry.
//!
//! ```toml
//! [auth]
//! require = ["POST /point", "DELETE /points/{id}"]
//! scopes = { "POST /point" = ["points:write"] }
//! ```
//!
//! Routes not named stay anonymous. A route with scopes needs a token
//! whether or not `require` names it. The host enforces it all before the
//! handler runs; a token that is present but invalid is refused on every
//! route.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::route::{Route, parse_route};

/// Routes that need a token, and the scopes each needs.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AuthPolicy {
    /// Routes, "METHOD /path" as in `routes`, that need a valid token.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub require: Vec<String>,
    /// Routes and the scopes a token must carry, every one of them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub scopes: BTreeMap<String, Vec<String>>,
}

/// What one route asks of its caller.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Requirement {
    /// A valid token is needed.
    pub token: bool,
    /// Scopes the token must carry (all of them).
    pub scopes: Vec<String>,
}

impl AuthPolicy {
    /// Whether every route is anonymous.
    pub fn is_empty(&self) -> bool {
        self.require.is_empty() && self.scopes.is_empty()
    }

    /// The first route named that is not "METHOD /path", or whose scopes
    /// are not scope tokens (printable, no spaces, no quotes).
    pub fn invalid_entry(&self) -> Option<String> {
        for route in self.require.iter().chain(self.scopes.keys()) {
            if parse_route(route).is_none() {
                return Some(format!("route {route:?} is not \"METHOD /path\""));
            }
        }
        for (route, scopes) in &self.scopes {
            if let Some(bad) = scopes.iter().find(|s| !valid_scope(s)) {
                return Some(format!("scope {bad:?} of {route:?} is not a scope token"));
            }
        }
        None
    }

    /// The routes it names that are not among `routes` (a policy that
    /// names a route the handler does not serve protects nothing).
    pub fn unknown_routes(&self, routes: &[String]) -> Vec<String> {
        let served: Vec<Route> = routes.iter().filter_map(|r| parse_route(r)).collect();
        self.require
            .iter()
            .chain(self.scopes.keys())
            .filter(|named| parse_route(named).is_none_or(|r| !served.contains(&r)))
            .cloned()
            .collect()
    }

    /// What `route` ("METHOD /path", as the handler's routes write it) asks.
    pub fn requirement(&self, route: &Route) -> Requirement {
        let names = |text: &String| parse_route(text).as_ref() == Some(route);
        let scopes: Vec<String> = self
            .scopes
            .iter()
            .filter(|(named, _)| names(named))
            .flat_map(|(_, scopes)| scopes.iter().cloned())
            .collect();
        Requirement {
            token: !scopes.is_empty() || self.require.iter().any(names),
            scopes,
        }
    }
}

/// RFC 6749's scope-token: printable ASCII, no space, quote or backslash.
fn valid_scope(scope: &str) -> bool {
    !scope.is_empty()
        && scope
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && b != b'"' && b != b'\\')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(text: &str) -> AuthPolicy {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn routes_ask_for_a_token_and_scopes_as_named() {
        let policy = policy(
            "require = [\"POST /point\", \"DELETE /points/{id}\"]\n\
             scopes = { \"POST /point\" = [\"points:write\"], \"PUT /x\" = [\"x\"] }",
        );
        assert_eq!(policy.invalid_entry(), None);
        let post = policy.requirement(&parse_route("POST /point").unwrap());
        assert_eq!(post.scopes, ["points:write"]);
        assert!(post.token);
        assert!(policy.requirement(&parse_route("PUT  /x").unwrap()).token);
        assert!(
            policy
                .requirement(&parse_route("DELETE /points/{id}").unwrap())
                .token
        );
        assert_eq!(
            policy.requirement(&parse_route("GET /points").unwrap()),
            Requirement::default()
        );
        let routes = ["POST /point".to_owned(), "DELETE /points/{id}".to_owned()];
        assert_eq!(policy.unknown_routes(&routes), ["PUT /x"]);
    }

    #[test]
    fn bad_entries_are_named() {
        assert!(policy("require = [\"/x\"]").invalid_entry().is_some());
        assert!(
            policy("scopes = { \"GET /x\" = [\"a b\"] }")
                .invalid_entry()
                .is_some()
        );
    }
}
