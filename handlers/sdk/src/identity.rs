//! Who is calling: the caller the host verified from the request's bearer
//! token, before this handler ran. The token itself never reaches a
//! handler; its SQL sees the same claims as
//! `current_setting('request.jwt.claims', true)`.

use serde_json::Value as Json;

use crate::wit::identity as wit;

/// A verified caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The token's `sub`, when it has one.
    pub subject: Option<String>,
    /// Its scopes.
    pub scopes: Vec<String>,
    claims: String,
}

impl Identity {
    /// Whether the caller was granted `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// Every claim of the token, as the JSON object it carried.
    pub fn claims(&self) -> Json {
        serde_json::from_str(&self.claims).unwrap_or(Json::Null)
    }

    /// The same, as the JSON text.
    pub fn claims_text(&self) -> &str {
        &self.claims
    }
}

/// The caller of this request, or `None` for an anonymous one.
pub fn current() -> Option<Identity> {
    wit::current().map(|caller| Identity {
        subject: caller.subject,
        scopes: caller.scopes,
        claims: caller.claims,
    })
}
