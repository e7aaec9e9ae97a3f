//! A token issuer for tests: signing keys of each algorithm, a host that
//! verifies their tokens, and requests that carry them.

use geofn_test_issuer::{SigningKey, claims, jwks};
use jsonwebtoken::Algorithm;
use serde_json::Value;

use super::{Host, TestDb, client};

/// The `iss` the host is told to accept.
pub const ISSUER: &str = "https://issuer.test";
/// The `aud` the host is told to accept.
pub const AUDIENCE: &str = "geofn-tests";

/// The probe, its POSTs behind a token with `probe:write`, on one
/// database connection (so every request reuses the last one's).
pub const PROBE_BEHIND_TOKENS: &str = r#"
[handlers.probe]
component = "probe.wasm"
routes = ["GET /probe/{action}", "POST /probe/{action}"]
[handlers.probe.limits]
db_connections = 1
[handlers.probe.auth]
require = ["POST /probe/{action}"]
scopes = { "POST /probe/{action}" = ["probe:write"] }

[handlers.probe-reuse]
component = "probe.wasm"
routes = ["GET /again/{action}"]
[handlers.probe-reuse.limits]
reuse_requests = [100, 100]
"#;

/// Four signing keys, one per algorithm family the host verifies.
pub struct Issuer {
    pub rsa: SigningKey,
    pub ec: SigningKey,
    pub ed: SigningKey,
    pub ps: SigningKey,
}

impl Issuer {
    pub fn new() -> Self {
        Self {
            rsa: SigningKey::generate(Algorithm::RS256, "rsa-1"),
            ec: SigningKey::generate(Algorithm::ES256, "ec-1"),
            ed: SigningKey::generate(Algorithm::EdDSA, "ed-1"),
            ps: SigningKey::generate(Algorithm::PS256, "ps-1"),
        }
    }

    /// The public keys of all four, as a JWKS document.
    pub fn jwks(&self) -> String {
        jwks(&[&self.rsa, &self.ec, &self.ed, &self.ps])
    }
}

/// Claims of `subject` with `scope`, valid for an hour.
pub fn good(subject: &str, scope: &str) -> Value {
    claims(subject, scope, ISSUER, AUDIENCE, 3600)
}

/// A host that verifies tokens of [`ISSUER`] for [`AUDIENCE`], its keys
/// from `jwks_args` (`--auth-jwks-url` or `--auth-jwks-file`).
pub async fn serve(db: &TestDb, dir: &std::path::Path, jwks_args: &[&str]) -> Host {
    let mut args = vec![
        "--auth-issuer",
        ISSUER,
        "--auth-audience",
        AUDIENCE,
        "--auth-jwks-min-refresh-ms",
        "200",
    ];
    args.extend_from_slice(jwks_args);
    Host::serve(db, dir, &args).await
}

/// `method path`, with `token` as a bearer token when there is one.
pub async fn send(host: &Host, method: &str, path: &str, token: Option<&str>) -> reqwest::Response {
    let mut request = client().request(method.parse().unwrap(), host.url(path));
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    request.send().await.unwrap()
}
