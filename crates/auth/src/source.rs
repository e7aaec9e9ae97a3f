//! Where an issuer's keys come from, and when to ask again.
//!
//! From a URL: fetched at start (an issuer that is down then is asked again
//! when a token needs it), again when a token names a `kid` the set does
//! not have (at most once per `min_refresh`, so a flood of made-up `kid`s
//! cannot flood the issuer), and every [`PERIODIC_REFRESH`] (a key the
//! issuer withdrew stops verifying). A failed fetch keeps the keys held:
//! an issuer outage locks no one out.
//!
//! From a file: read at start, and again whenever its modification time
//! changes (looked at every [`FILE_CHECK`], and when a token names an
//! unknown `kid`).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwap;
use geofn_telemetry::metrics as m;

use crate::keys::KeySet;

/// How often a URL's keys are fetched again, unknown `kid` or not.
pub const PERIODIC_REFRESH: Duration = Duration::from_secs(300);
/// How often a file's modification time is looked at.
pub const FILE_CHECK: Duration = Duration::from_secs(1);
/// Longest wait for the issuer's answer.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest JWKS document read: issuers publish a few keys, not megabytes.
const MAX_DOCUMENT_BYTES: u64 = 1 << 20;

/// Where the keys are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyLocation {
    /// An issuer's JWKS endpoint (`jwks_uri` of its OIDC discovery).
    Url(String),
    /// A JWKS document on disk (a mounted Secret or ConfigMap).
    File(PathBuf),
}

impl std::fmt::Display for KeyLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyLocation::Url(url) => f.write_str(url),
            KeyLocation::File(path) => write!(f, "{}", path.display()),
        }
    }
}

/// When the keys were last asked for.
struct Attempts {
    /// The last fetch or read, successful or not.
    last: Option<Instant>,
    /// The file's modification time when it was last read.
    modified: Option<SystemTime>,
}

/// The keys held now, and how to renew them.
pub struct Keys {
    location: KeyLocation,
    current: ArcSwap<KeySet>,
    attempts: Mutex<Attempts>,
    min_refresh: Duration,
    loads: AtomicU64,
}

impl Keys {
    /// Keys from `location`, loaded once now. A URL that does not answer
    /// yet leaves the set empty (logged); a file that cannot be read is an
    /// error, as a mistake in the configuration is.
    pub async fn load(location: KeyLocation, min_refresh: Duration) -> Result<Arc<Self>, String> {
        let keys = Arc::new(Self {
            location,
            current: ArcSwap::from_pointee(KeySet::default()),
            attempts: Mutex::new(Attempts {
                last: None,
                modified: None,
            }),
            min_refresh,
            loads: AtomicU64::new(0),
        });
        match (&keys.location, keys.fetch().await) {
            (_, Ok(())) => {}
            (KeyLocation::File(_), Err(err)) => return Err(err),
            (KeyLocation::Url(url), Err(err)) => {
                tracing::warn!(auth.jwks = %url, error = %err, "the issuer's keys could not be fetched at start; tokens are refused until they can be");
            }
        }
        Ok(keys)
    }

    /// The keys held now.
    pub fn current(&self) -> Arc<KeySet> {
        self.current.load_full()
    }

    /// Asks again after a token named a `kid` not held, unless that was
    /// done less than `min_refresh` ago; whether the keys changed.
    pub async fn refresh_for_unknown_key(&self) -> bool {
        let due = {
            let attempts = self.lock();
            attempts
                .last
                .is_none_or(|last| last.elapsed() >= self.min_refresh)
        };
        due && self.fetch().await.is_ok()
    }

    /// Keeps the keys fresh until `keys` is dropped: a URL every
    /// [`PERIODIC_REFRESH`], a file whenever it changes.
    pub fn spawn_upkeep(keys: &Arc<Self>) {
        let weak = Arc::downgrade(keys);
        let every = match keys.location {
            KeyLocation::Url(_) => PERIODIC_REFRESH,
            KeyLocation::File(_) => FILE_CHECK,
        };
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticks.tick().await;
            loop {
                ticks.tick().await;
                let Some(keys) = weak.upgrade() else { return };
                let _ = keys.fetch().await;
            }
        });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Attempts> {
        self.attempts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Fetches or reads the document and swaps the keys in if it parses.
    async fn fetch(&self) -> Result<(), String> {
        let document = match &self.location {
            KeyLocation::Url(url) => {
                self.lock().last = Some(Instant::now());
                let url = url.clone();
                tokio::task::spawn_blocking(move || fetch_url(&url))
                    .await
                    .map_err(|e| e.to_string())
                    .and_then(|fetched| fetched)
            }
            KeyLocation::File(path) => {
                let modified = std::fs::metadata(path)
                    .and_then(|meta| meta.modified())
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                {
                    let mut attempts = self.lock();
                    attempts.last = Some(Instant::now());
                    if attempts.modified == Some(modified) {
                        return Ok(());
                    }
                    attempts.modified = Some(modified);
                }
                std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
            }
        };
        let parsed = document.and_then(|document| KeySet::parse(&document));
        match parsed {
            Ok(mut keys) => {
                keys.generation = self.loads.fetch_add(1, Ordering::Relaxed) + 1;
                let count = keys.len();
                if keys.skipped > 0 {
                    tracing::info!(auth.jwks = %self.location, skipped = keys.skipped, "keys this host cannot verify with were left out");
                }
                self.current.store(Arc::new(keys));
                metrics::counter!(m::AUTH_KEY_REFRESHES, "result" => "ok").increment(1);
                metrics::gauge!(m::AUTH_KEYS).set(count as f64);
                tracing::debug!(auth.jwks = %self.location, keys = count, "issuer keys loaded");
                Ok(())
            }
            Err(err) => {
                // The keys held stay: an issuer outage locks no one out.
                metrics::counter!(m::AUTH_KEY_REFRESHES, "result" => "failed").increment(1);
                tracing::warn!(auth.jwks = %self.location, error = %err, "the issuer's keys could not be renewed; keeping those held");
                Err(err)
            }
        }
    }
}

/// GET of a JWKS document, bounded in time and size.
fn fetch_url(url: &str) -> Result<Vec<u8>, String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(FETCH_TIMEOUT))
        .build()
        .into();
    let mut response = agent.get(url).call().map_err(|e| e.to_string())?;
    response
        .body_mut()
        .with_config()
        .limit(MAX_DOCUMENT_BYTES)
        .read_to_vec()
        .map_err(|e| e.to_string())
}
