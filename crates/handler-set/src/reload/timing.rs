//! Where one reload's time went. A swap that took long says which phase
//! held it (waiting for a burst of events to end, reading the directory and
//! the pushed versions, compiling, the database, assembling pools and
//! routes), in its log line and in a histogram per phase, so an operator
//! can tell a slow compiler from a slow database from a slow resolver.

use std::time::{Duration, Instant};

use geofn_telemetry::metrics::{SWAP_PHASE_SECONDS, SWAP_SECONDS};

/// The phases of one reload, as long as each took.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct SwapTimings {
    /// From the first event to the end of its burst (file events coalesce).
    pub settle: Duration,
    /// Reading the directory and laying the pushed versions over it.
    pub snapshot: Duration,
    /// Compiling the components the running set does not have.
    pub compile: Duration,
    /// Roles, migrations and grants.
    pub database: Duration,
    /// Pools, memory shares and the route table.
    pub assemble: Duration,
}

/// The phase names as the metrics label them, in order.
pub const PHASES: [&str; 5] = ["settle", "snapshot", "compile", "database", "assemble"];

impl SwapTimings {
    /// Each phase with its label, in order.
    pub fn phases(&self) -> [(&'static str, Duration); 5] {
        [
            (PHASES[0], self.settle),
            (PHASES[1], self.snapshot),
            (PHASES[2], self.compile),
            (PHASES[3], self.database),
            (PHASES[4], self.assemble),
        ]
    }

    /// From the first event to the set built.
    pub fn total(&self) -> Duration {
        self.phases().iter().map(|(_, took)| *took).sum()
    }

    /// Records an applied swap: the total and every phase.
    pub fn record(&self) {
        metrics::histogram!(SWAP_SECONDS).record(self.total().as_secs_f64());
        for (phase, took) in self.phases() {
            metrics::histogram!(SWAP_PHASE_SECONDS, "phase" => phase).record(took.as_secs_f64());
        }
    }
}

/// Times consecutive phases: each `lap` returns the time since the last.
#[derive(Debug)]
pub struct Laps(Instant);

impl Laps {
    /// Starts now.
    pub fn start() -> Self {
        Self(Instant::now())
    }

    /// The time since the start or the previous lap.
    pub fn lap(&mut self) -> Duration {
        let now = Instant::now();
        let took = now - self.0;
        self.0 = now;
        took
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_total_is_the_sum_of_the_phases_in_order() {
        let ms = Duration::from_millis;
        let timings = SwapTimings {
            settle: ms(50),
            snapshot: ms(3),
            compile: ms(120),
            database: ms(7),
            assemble: ms(1),
        };
        assert_eq!(timings.total(), ms(181));
        let labels: Vec<&str> = timings.phases().iter().map(|(p, _)| *p).collect();
        assert_eq!(labels, PHASES);
        assert_eq!(timings.phases()[2], ("compile", ms(120)));
    }
}
