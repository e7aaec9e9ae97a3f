//! A held load level (user count or offered rate) and what it got.

use std::time::Duration;

use crate::stats::{Stats, Tally};

/// Where one load level was held.
#[derive(Debug, Clone)]
pub struct Step {
    /// Users, or offered requests per second.
    pub load: u64,
    pub from: Duration,
    pub to: Duration,
}

/// What a step achieved.
#[derive(Debug, Clone)]
pub struct StepSummary {
    pub load: u64,
    /// Successful requests per second.
    pub throughput: f64,
    /// Failed requests per second.
    pub failures: f64,
    pub tally: Tally,
}

impl Step {
    /// The step's whole seconds, skipping the first (still settling).
    pub fn summarize(&self, stats: &Stats) -> StepSummary {
        let from = self.from.as_secs() as usize + 1;
        let to = (self.to.as_secs() as usize).max(from + 1);
        let tally = stats.between(from, to);
        let seconds = (to - from) as f64;
        StepSummary {
            load: self.load,
            throughput: tally.ok as f64 / seconds,
            failures: tally.failed as f64 / seconds,
            tally,
        }
    }
}
