//! Counters of the reload loop, readable by `/admin/handlers` and `/metrics`.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

use geofn_telemetry::metrics::{SWAPS_APPLIED, SWAPS_REJECTED};

use crate::metrics::register_handlers;
use crate::set::HandlerSet;

/// Swap outcomes since the process started.
#[derive(Debug, Default)]
pub struct ReloadStats {
    applied: AtomicU64,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    rejected: BTreeMap<&'static str, u64>,
    last_rejection: Option<String>,
    versions: BTreeMap<String, String>,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ReloadReport {
    /// Handler sets swapped in.
    pub applied: u64,
    /// Rejected reloads by reason.
    pub rejected: BTreeMap<&'static str, u64>,
    /// The last rejection's message, for whoever is wondering why their
    /// change did not take.
    pub last_rejection: Option<String>,
    /// Current component hash per handler.
    pub versions: BTreeMap<String, String>,
}

impl ReloadStats {
    /// Stats for a process that started with `set`.
    pub fn new(set: &HandlerSet) -> Self {
        let stats = Self::default();
        stats.record_versions(set);
        register_handlers(set);
        stats
    }

    /// Counts a successful swap to `set`.
    pub fn applied(&self, set: &HandlerSet) {
        self.applied.fetch_add(1, Ordering::Relaxed);
        metrics::counter!(SWAPS_APPLIED).increment(1);
        self.record_versions(set);
        register_handlers(set);
    }

    /// Counts a rejected reload.
    pub fn rejected(&self, reason: &'static str, message: &str) {
        metrics::counter!(SWAPS_REJECTED, "reason" => reason).increment(1);
        let mut inner = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *inner.rejected.entry(reason).or_default() += 1;
        inner.last_rejection = Some(message.to_owned());
    }

    /// The counters now.
    pub fn report(&self) -> ReloadReport {
        let inner = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        ReloadReport {
            applied: self.applied.load(Ordering::Relaxed),
            rejected: inner.rejected.clone(),
            last_rejection: inner.last_rejection.clone(),
            versions: inner.versions.clone(),
        }
    }

    fn record_versions(&self, set: &HandlerSet) {
        let mut inner = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        inner.versions = set
            .handlers()
            .iter()
            .map(|h| (h.name.to_string(), h.sha256.clone()))
            .collect();
    }
}
