//! Who may call: where the token issuer's keys are, what its tokens must
//! say, and the scope that makes one good for `/admin/...`.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use geofn_auth::source::KeyLocation;
use geofn_auth::verifier::{AuthSettings, DEFAULT_LEEWAY, DEFAULT_MIN_REFRESH};

/// Token verification settings (all off unless a JWKS is given).
#[derive(Debug, Clone, Args)]
pub struct AuthArgs {
    /// The issuer's JWKS endpoint (its OIDC discovery's `jwks_uri`): bearer
    /// tokens are verified against these keys.
    #[arg(long, env = "GEOFN_AUTH_JWKS_URL", conflicts_with = "auth_jwks_file")]
    pub auth_jwks_url: Option<String>,
    /// A JWKS document on disk instead (re-read when it changes).
    #[arg(long, env = "GEOFN_AUTH_JWKS_FILE")]
    pub auth_jwks_file: Option<PathBuf>,
    /// The `iss` every token must carry.
    #[arg(long, env = "GEOFN_AUTH_ISSUER")]
    pub auth_issuer: Option<String>,
    /// The `aud` every token must carry.
    #[arg(long, env = "GEOFN_AUTH_AUDIENCE")]
    pub auth_audience: Option<String>,
    /// Clock skew allowed on `exp` and `nbf`, in seconds.
    #[arg(long, env = "GEOFN_AUTH_LEEWAY_SECS", default_value_t = DEFAULT_LEEWAY.as_secs())]
    pub auth_leeway_secs: u64,
    /// Least time between two fetches of the JWKS caused by tokens naming
    /// a key it does not hold.
    #[arg(long, env = "GEOFN_AUTH_JWKS_MIN_REFRESH_MS",
          default_value_t = DEFAULT_MIN_REFRESH.as_millis() as u64)]
    pub auth_jwks_min_refresh_ms: u64,
    /// A scope that makes a verified token good for /admin/... (besides
    /// the admin token).
    #[arg(long, env = "GEOFN_AUTH_ADMIN_SCOPE")]
    pub auth_admin_scope: Option<String>,
}

impl AuthArgs {
    /// The verifier's settings, if tokens are to be verified at all.
    pub fn settings(&self) -> Option<AuthSettings> {
        let keys = match (&self.auth_jwks_url, &self.auth_jwks_file) {
            (Some(url), _) => KeyLocation::Url(url.clone()),
            (None, Some(file)) => KeyLocation::File(file.clone()),
            (None, None) => return None,
        };
        Some(AuthSettings {
            keys,
            issuer: self.auth_issuer.clone(),
            audience: self.auth_audience.clone(),
            leeway: Duration::from_secs(self.auth_leeway_secs),
            min_refresh: Duration::from_millis(self.auth_jwks_min_refresh_ms),
            admin_scope: self.auth_admin_scope.clone(),
        })
    }
}
