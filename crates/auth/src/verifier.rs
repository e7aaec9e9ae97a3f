//! Verifying a bearer token: size, header, the issuer's key for its `kid`,
//! the signature with the algorithm that key is for, then `exp`, `nbf`,
//! `iss` and `aud`. Tokens already verified come from the cache.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use geofn_telemetry::metrics as m;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Validation, decode, decode_header};
use serde_json::{Map, Value};

use crate::cache::TokenCache;
use crate::identity::Identity;
use crate::keys::{ALLOWED, KeySet};
use crate::refusal::Invalid;
use crate::source::{KeyLocation, Keys};

/// Longest token accepted: issuers' tokens are a few KiB at most, and a
/// longer one is refused before any work is spent on it.
pub const MAX_TOKEN_BYTES: usize = 8 << 10;
/// Clock skew allowed on `exp` and `nbf`, unless configured.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(30);
/// Least time between two fetches caused by unknown `kid`s, unless configured.
pub const DEFAULT_MIN_REFRESH: Duration = Duration::from_secs(30);

/// How tokens are verified.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// Where the issuer's keys are.
    pub keys: KeyLocation,
    /// The `iss` tokens must carry, if checked.
    pub issuer: Option<String>,
    /// The `aud` tokens must carry, if checked.
    pub audience: Option<String>,
    /// Clock skew allowed on `exp` and `nbf`.
    pub leeway: Duration,
    /// Least time between two fetches caused by unknown `kid`s.
    pub min_refresh: Duration,
    /// A scope that makes a token good for `/admin/...`, if any.
    pub admin_scope: Option<String>,
}

/// Verifies tokens for the whole host.
pub struct Verifier {
    keys: Arc<Keys>,
    cache: TokenCache,
    issuer: Option<String>,
    audience: Option<String>,
    leeway: u64,
    admin_scope: Option<String>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// A verifier whose keys are loaded (and kept fresh from now on).
    pub async fn start(settings: AuthSettings) -> Result<Arc<Self>, String> {
        let keys = Keys::load(settings.keys, settings.min_refresh).await?;
        Keys::spawn_upkeep(&keys);
        Ok(Arc::new(Self {
            keys,
            cache: TokenCache::default(),
            issuer: settings.issuer,
            audience: settings.audience,
            leeway: settings.leeway.as_secs(),
            admin_scope: settings.admin_scope,
        }))
    }

    /// The scope that opens `/admin/...`, if one is configured.
    pub fn admin_scope(&self) -> Option<&str> {
        self.admin_scope.as_deref()
    }

    /// Who `token` says the caller is, if it is valid.
    pub async fn verify(&self, token: &str) -> Result<Arc<Identity>, Invalid> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(Invalid::TooLong);
        }
        let now = unix_now();
        let mut keys = self.keys.current();
        if let Some(identity) =
            self.cache
                .get(token, now.saturating_sub(self.leeway), keys.generation)
        {
            metrics::counter!(m::AUTH_VERIFIED, "how" => "cached").increment(1);
            return Ok(identity);
        }
        let header = decode_header(token).map_err(|err| match err.kind() {
            // `none`, or a name no JOSE algorithm has.
            ErrorKind::Json(_) if token_names_none(token) => Invalid::Algorithm,
            _ => Invalid::Malformed,
        })?;
        if !ALLOWED.contains(&header.alg) {
            return Err(Invalid::Algorithm);
        }
        if keys.find(header.kid.as_deref(), header.alg).is_none()
            && self.keys.refresh_for_unknown_key().await
        {
            keys = self.keys.current();
        }
        let identity = Arc::new(self.check(token, &header, &keys)?);
        self.cache
            .insert(token, identity.clone(), now, keys.generation);
        metrics::counter!(m::AUTH_VERIFIED, "how" => "signature").increment(1);
        Ok(identity)
    }

    /// The signature and the claims, against `keys`.
    fn check(
        &self,
        token: &str,
        header: &jsonwebtoken::Header,
        keys: &KeySet,
    ) -> Result<Identity, Invalid> {
        let key = keys
            .find(header.kid.as_deref(), header.alg)
            .ok_or(Invalid::UnknownKey)?;
        if !key.algorithms.contains(&header.alg) {
            return Err(Invalid::Algorithm);
        }
        let mut validation = Validation::new(header.alg);
        validation.leeway = self.leeway;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp"]);
        match &self.audience {
            Some(audience) => validation.set_audience(&[audience]),
            None => validation.validate_aud = false,
        }
        if let Some(issuer) = &self.issuer {
            validation.set_issuer(&[issuer]);
        }
        let data = decode::<Map<String, Value>>(token, &key.decoding, &validation).map_err(
            |err| match err.kind() {
                ErrorKind::InvalidSignature => Invalid::Signature,
                ErrorKind::ExpiredSignature => Invalid::Expired,
                ErrorKind::MissingRequiredClaim(claim) if claim == "exp" => Invalid::Expired,
                ErrorKind::ImmatureSignature => Invalid::NotYetValid,
                ErrorKind::InvalidIssuer => Invalid::Issuer,
                ErrorKind::MissingRequiredClaim(claim) if claim == "iss" => Invalid::Issuer,
                ErrorKind::InvalidAudience => Invalid::Audience,
                ErrorKind::MissingRequiredClaim(claim) if claim == "aud" => Invalid::Audience,
                ErrorKind::InvalidAlgorithm => Invalid::Algorithm,
                _ => Invalid::Malformed,
            },
        )?;
        Ok(Identity::from_claims(&data.claims))
    }
}

/// Whether the token's header says `"alg":"none"` (an unsigned token).
fn token_names_none(token: &str) -> bool {
    use base64::Engine as _;
    let Some(encoded) = token.split('.').next() else {
        return false;
    };
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(encoded)
        .ok()
        .and_then(|json| serde_json::from_slice::<Value>(&json).ok())
        .and_then(|header| header.get("alg").and_then(Value::as_str).map(str::to_owned))
        .is_some_and(|alg| alg.eq_ignore_ascii_case("none"))
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
