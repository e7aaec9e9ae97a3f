//! Which caller's claims each pooled connection's session holds as
//! `request.jwt.claims`, so a request whose connection already holds its
//! caller's claims (the same client again, or anonymous after anonymous)
//! sends nothing for them: only a change costs a statement.
//!
//! A connection not listed may hold anything (unknown), and is set before
//! its next use; so the list may forget a connection at any time (it is
//! bounded, the oldest forgotten first), but must never remember a value
//! the session does not hold: whoever may have changed it forgets it first.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use deadpool::managed::ObjectId;

/// The claims of no caller (an anonymous request).
pub const NONE: &str = "";

/// The claims held, by connection.
pub struct HeldClaims {
    by_connection: Mutex<BTreeMap<ObjectId, Arc<str>>>,
    cap: usize,
}

impl HeldClaims {
    /// Remembers at most `cap` connections.
    pub fn new(cap: usize) -> Self {
        Self {
            by_connection: Mutex::default(),
            cap: cap.max(1),
        }
    }

    /// What `connection` holds, if known.
    pub fn get(&self, connection: ObjectId) -> Option<Arc<str>> {
        self.lock().get(&connection).cloned()
    }

    /// `connection` may hold anything now.
    pub fn forget(&self, connection: ObjectId) {
        self.lock().remove(&connection);
    }

    /// `connection` holds `claims` (`NONE`: no caller's).
    pub fn note(&self, connection: ObjectId, claims: Arc<str>) {
        let mut held = self.lock();
        held.insert(connection, claims);
        while held.len() > self.cap {
            // Connection ids grow: the lowest is the oldest, most likely closed.
            held.pop_first();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<ObjectId, Arc<str>>> {
        self.by_connection
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
