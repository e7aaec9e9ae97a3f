//! What this replica's schedule runs did, for `/admin/handlers`: each
//! tick runs on one replica of the fleet, so each shows its own.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// This replica's runs of each schedule, for `/admin/handlers`.
#[derive(Debug, Default)]
pub struct ScheduleStats {
    runs: Mutex<HashMap<(String, String), RunStats>>,
}

/// One schedule's runs on this replica.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunStats {
    /// Ticks this replica ran.
    pub runs: u64,
    /// Of those, answered with a 4xx or 5xx (or not at all).
    pub failures: u64,
    /// When the last one started (RFC 3339).
    pub last_started: Option<String>,
    /// Its status.
    pub last_status: Option<u16>,
    /// How long it took.
    pub last_ms: Option<f64>,
}

impl ScheduleStats {
    /// `handler`'s `schedule` as this replica ran it.
    pub fn of(&self, handler: &str, schedule: &str) -> RunStats {
        self.runs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(handler.to_owned(), schedule.to_owned()))
            .cloned()
            .unwrap_or_default()
    }

    pub(crate) fn record(
        &self,
        handler: &str,
        schedule: &str,
        started: SystemTime,
        status: u16,
        took: Duration,
    ) {
        let mut runs = self.runs.lock().unwrap_or_else(|e| e.into_inner());
        let entry = runs
            .entry((handler.to_owned(), schedule.to_owned()))
            .or_default();
        entry.runs += 1;
        if status >= 400 {
            entry.failures += 1;
        }
        entry.last_started = OffsetDateTime::from(started).format(&Rfc3339).ok();
        entry.last_status = Some(status);
        entry.last_ms = Some(took.as_secs_f64() * 1e3);
    }
}
