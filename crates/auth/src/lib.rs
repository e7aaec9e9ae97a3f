//! Who is calling. The host verifies a request's bearer token (a JWT) once,
//! before any handler instance exists, against the issuer's published keys
//! and the route's policy, and hands the handler and its SQL only the
//! verified identity, never the token.
//!
//! - [`verifier`]: a token's size, header, key, signature and claims.
//! - [`keys`]: an issuer's JWKS as keys, each with what it may verify.
//! - [`source`]: where the keys come from (URL or file), and when to ask again.
//! - [`cache`]: tokens already verified, bounded, until they expire.
//! - [`identity`]: the verified caller.
//! - [`refusal`]: why a request was refused, in RFC 6750's terms.
//! - [`authorize`]: one request's `Authorization` against its route's policy.

#![deny(missing_docs)]

pub mod cache;
pub mod identity;
pub mod keys;
pub mod refusal;
pub mod source;
pub mod verifier;

use std::sync::Arc;

use geofn_contract::auth::Requirement;

use crate::identity::Identity;
use crate::refusal::{Invalid, Refusal};
use crate::verifier::Verifier;

/// The token of an `Authorization: Bearer <token>` header value; `None`
/// for another scheme.
pub fn bearer(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim_matches(' '))
}

/// Decides one request: the caller's identity (`None`: anonymous), or why
/// the request is refused. A token that is sent is always verified, on
/// anonymous routes too; without a verifier (no issuer configured) tokens
/// are not looked at, and routes that need one are refused.
pub async fn authorize(
    verifier: Option<&Verifier>,
    authorization: Option<&str>,
    requirement: &Requirement,
) -> Result<Option<Arc<Identity>>, Refusal> {
    let token = authorization.and_then(bearer);
    let (verifier, token) = match (verifier, token) {
        (Some(verifier), Some(token)) => (verifier, token),
        (None, _) if requirement.token => return Err(Refusal::NotConfigured),
        (Some(_), None) if requirement.token => return Err(Refusal::Missing),
        _ => return Ok(None),
    };
    if token.is_empty() {
        return Err(Refusal::Invalid(Invalid::Malformed));
    }
    let identity = verifier.verify(token).await.map_err(Refusal::Invalid)?;
    if let Some(missing) = identity.missing_scope(&requirement.scopes) {
        return Err(Refusal::InsufficientScope(missing.clone()));
    }
    Ok(Some(identity))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_are_found_in_any_case_of_the_scheme() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer  abc"), Some("abc"));
        assert_eq!(bearer("Basic dXNlcjpwYXNz"), None);
        assert_eq!(bearer("Bearer"), None);
    }

    #[tokio::test]
    async fn without_a_verifier_tokens_are_ignored_and_required_routes_refused() {
        let open = Requirement::default();
        let closed = Requirement {
            token: true,
            scopes: Vec::new(),
        };
        assert_eq!(authorize(None, Some("Bearer x"), &open).await, Ok(None));
        assert_eq!(
            authorize(None, None, &closed).await,
            Err(Refusal::NotConfigured)
        );
    }
}
