//! Tokens already verified, so a client that sends the same token with
//! every request pays for its signature once. Bounded in bytes, each entry
//! good until its token expires and only with the keys it was verified
//! with: when the issuer's keys are loaded again, a withdrawn key's tokens
//! stop working with it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::identity::Identity;

/// Bytes of tokens held at most (a token is typically under 2 KiB).
pub const CAPACITY_BYTES: usize = 4 << 20;

/// Verified tokens and what they said.
#[derive(Default)]
pub struct TokenCache {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Each token's identity, and the load of the keys it was verified with.
    entries: HashMap<Box<str>, (Arc<Identity>, u64)>,
    bytes: usize,
}

impl TokenCache {
    /// The identity `token` was verified as, if it was, with the keys of
    /// load `generation`, and has not expired by `now` (Unix seconds).
    pub fn get(&self, token: &str, now: u64, generation: u64) -> Option<Arc<Identity>> {
        let mut inner = self.lock();
        let (identity, verified_with) = inner.entries.get(token)?.clone();
        if identity.expires_at > now && verified_with == generation {
            return Some(identity);
        }
        inner.bytes -= token.len();
        inner.entries.remove(token);
        None
    }

    /// Remembers that `token` verified as `identity` with the keys of load
    /// `generation`.
    pub fn insert(&self, token: &str, identity: Arc<Identity>, now: u64, generation: u64) {
        let mut inner = self.lock();
        if inner.bytes + token.len() > CAPACITY_BYTES {
            inner.entries.retain(|_, (id, verified_with)| {
                id.expires_at > now && *verified_with == generation
            });
            inner.bytes = inner.entries.keys().map(|k| k.len()).sum();
            if inner.bytes + token.len() > CAPACITY_BYTES {
                inner.entries.clear();
                inner.bytes = 0;
            }
        }
        if inner
            .entries
            .insert(token.into(), (identity, generation))
            .is_none()
        {
            inner.bytes += token.len();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(expires_at: u64) -> Arc<Identity> {
        Arc::new(Identity {
            subject: None,
            scopes: Vec::new(),
            claims: Arc::from("{}"),
            expires_at,
        })
    }

    #[test]
    fn entries_last_until_their_token_expires_and_the_bound_holds() {
        let cache = TokenCache::default();
        cache.insert("a", identity(100), 10, 1);
        assert!(cache.get("a", 99, 1).is_some());
        assert!(cache.get("a", 99, 2).is_none(), "verified with other keys");
        cache.insert("a", identity(100), 10, 1);
        assert!(cache.get("a", 100, 1).is_none(), "expired");
        let big = "x".repeat(CAPACITY_BYTES / 2 + 1);
        cache.insert(&big, identity(100), 10, 1);
        cache.insert(&big.replace('x', "y"), identity(100), 10, 1);
        assert!(cache.lock().bytes <= CAPACITY_BYTES);
    }
}
