//! A caller the host verified, as handlers and their SQL see it.

use std::sync::Arc;

use serde_json::{Map, Value};

/// The verified claims of a bearer token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The `sub` claim, when the token has one.
    pub subject: Option<String>,
    /// `scope` split on spaces, or the `scp` list (as some issuers write it).
    pub scopes: Vec<String>,
    /// Every claim, as one JSON object: what handlers get, and what their
    /// SQL reads as `current_setting('request.jwt.claims', true)`.
    pub claims: Arc<str>,
    /// Unix time (seconds) at which the token expires.
    pub expires_at: u64,
}

impl Identity {
    /// The identity a verified payload carries.
    pub fn from_claims(claims: &Map<String, Value>) -> Self {
        let subject = claims.get("sub").and_then(Value::as_str).map(str::to_owned);
        let scopes = match (claims.get("scope"), claims.get("scp")) {
            (Some(Value::String(scope)), _) => {
                scope.split_ascii_whitespace().map(str::to_owned).collect()
            }
            (_, Some(Value::Array(list))) => list
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            (_, Some(Value::String(scp))) => {
                scp.split_ascii_whitespace().map(str::to_owned).collect()
            }
            _ => Vec::new(),
        };
        let expires_at = claims.get("exp").and_then(Value::as_u64).unwrap_or(0);
        let text = serde_json::to_string(claims).unwrap_or_else(|_| "{}".to_owned());
        Self {
            subject,
            scopes,
            claims: Arc::from(text),
            expires_at,
        }
    }

    /// The first of `needed` this caller lacks.
    pub fn missing_scope<'a>(&self, needed: &'a [String]) -> Option<&'a String> {
        needed.iter().find(|scope| !self.scopes.contains(scope))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_come_from_scope_or_scp() {
        let from = |json: &str| {
            Identity::from_claims(
                serde_json::from_str::<Value>(json)
                    .unwrap()
                    .as_object()
                    .unwrap(),
            )
        };
        let alice = from(r#"{"sub":"alice","scope":"a b","exp":9}"#);
        assert_eq!(alice.subject.as_deref(), Some("alice"));
        assert_eq!(alice.scopes, ["a", "b"]);
        assert_eq!(alice.expires_at, 9);
        assert_eq!(from(r#"{"scp":["x","y"]}"#).scopes, ["x", "y"]);
        assert_eq!(
            alice.missing_scope(&["a".into(), "c".into()]),
            Some(&"c".to_owned())
        );
        assert!(from("{}").subject.is_none());
    }
}
