//! What the probe learns of its caller: the identity the host verified, the
//! headers it was given (a bearer token must not be among them), and the
//! claims its SQL sees.

use geofn_guest::db;
use geofn_guest::http;
use geofn_guest::identity;
use geofn_guest::{Request, Response};
use serde_json::json;

pub fn whoami(request: &Request) -> Response {
    let caller = identity::current().map(|caller| {
        json!({
            "subject": caller.subject,
            "scopes": caller.scopes,
            "claims": caller.claims(),
        })
    });
    let sql_claims = db::query(
        "SELECT coalesce(current_setting('request.jwt.claims', true), '') AS claims",
        &[],
    )
    .ok()
    .and_then(|rows| rows.rows.into_iter().next())
    .and_then(|row| match row.into_iter().next() {
        Some(db::Value::Text(text)) => Some(text),
        _ => None,
    });
    let authorization = request
        .headers
        .iter()
        .find(|(name, _)| name == "authorization")
        .map(|(_, value)| value.clone());
    http::json(
        200,
        &json!({
            "identity": caller,
            "authorization_header": authorization,
            "sql_claims": sql_claims,
        }),
    )
}
