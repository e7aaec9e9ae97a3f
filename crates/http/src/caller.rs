//! Who is calling: a request's bearer token checked against its route's
//! policy before anything else is done for it (no body read, no instance).
//! Refusals are RFC 6750's: `401` with `WWW-Authenticate: Bearer
//! error="invalid_token"` for a bad token, `403` with
//! `error="insufficient_scope"` for a good one without the scope, as
//! problem documents that name no secret and no key material.

use std::sync::Arc;

use axum::response::{IntoResponse, Response};
use geofn_auth::identity::Identity;
use geofn_auth::refusal::Refusal;
use geofn_contract::auth::Requirement;
use geofn_telemetry::metrics as m;
use http::{HeaderValue, StatusCode, header};

use crate::problem::Problem;
use crate::state::AppState;

/// The request's verified caller (`None`: anonymous), or the answer that
/// refuses it.
pub async fn check(
    state: &AppState,
    handler: &str,
    authorization: Option<&HeaderValue>,
    requirement: &Requirement,
) -> Result<Option<Arc<Identity>>, Response> {
    // A header that is not text is no token this host made sense of.
    let authorization = authorization.map(|value| value.to_str().unwrap_or("Bearer \u{0}"));
    geofn_auth::authorize(state.auth.as_deref(), authorization, requirement)
        .await
        .map_err(|refusal| {
            metrics::counter!(m::AUTH_REFUSED, "handler" => handler.to_owned(), "reason" => refusal.label())
                .increment(1);
            tracing::debug!(handler.name = handler, auth.reason = refusal.label(), "request refused by the token check");
            refused(&refusal)
        })
}

/// The answer to a refused request.
pub fn refused(refusal: &Refusal) -> Response {
    let (status, slug, title) = match refusal {
        Refusal::InsufficientScope(_) => (StatusCode::FORBIDDEN, "insufficient-scope", "Forbidden"),
        Refusal::Invalid(_) => (StatusCode::UNAUTHORIZED, "invalid-token", "Unauthorized"),
        Refusal::Missing | Refusal::NotConfigured => {
            (StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized")
        }
    };
    let mut response = Problem::new(status, slug, title, refusal.detail()).into_response();
    if let Ok(challenge) = HeaderValue::from_str(&refusal.challenge()) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, challenge);
    }
    response
}
