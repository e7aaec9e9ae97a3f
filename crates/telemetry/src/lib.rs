//! What the host tells operators: Prometheus metrics.
//!
//! A leaf: every other layer reports into it (counters and histograms as
//! events happen, gauges through scrape hooks its owners register), and it
//! reads no application state itself.
//!
//! - [`families`]: every metric's name and help text.
//! - [`metrics`]: the recorder, zeroed families, scrape hooks, the `/metrics` text.

#![deny(missing_docs)]

pub mod families;
pub mod metrics;
