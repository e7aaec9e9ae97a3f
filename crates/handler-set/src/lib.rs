//! The handlers a geofn host serves: where they come from (a watched
//! directory, versions pushed to the fleet), how a set of them is built
//! (manifests resolved, components compiled, the database made ready),
//! and how the set being served is swapped whole while requests run.
//!
//! - [`snapshot`]: a handlers directory read at one moment.
//! - [`artifact`]: the manifest a component carries, found in its bytes.
//! - [`loader`]: what building a set needs from the layers below.
//! - [`build`]: a [`set::HandlerSet`] from a snapshot, all or nothing.
//! - [`variables`]: a version's variables from the environment, files and
//!   `geofn.toml`.
//! - `schedules`: a version's schedules, checked against its routes.
//! - [`error`]: why a set could not be loaded.
//! - [`set`]: the loaded handlers, their route table, the swappable registry.
//! - [`fleet`]: pushed versions in PostgreSQL, LISTEN/NOTIFY to every replica.
//! - [`reload`]: hot swap, the reconcile loop behind file events and polling.
//! - [`metrics`]: what the set reports at zero and at every scrape.

#![deny(missing_docs)]

pub mod artifact;
pub mod build;
pub mod error;
pub mod fleet;
pub mod loader;
pub mod metrics;
pub mod reload;
mod schedules;
pub mod set;
pub mod snapshot;
pub mod variables;
