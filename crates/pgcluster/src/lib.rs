//! A private PostgreSQL cluster in a folder: created with `initdb` on first
//! use, started with `pg_ctl` on a free loopback port, stopped on drop.
//! `geofn dev` serves on one; every test that needs a database starts its
//! own.
//!
//! PostgreSQL refuses to run as root; when we are root, `initdb` and
//! `pg_ctl` run as the `postgres` user through `runuser`.
//!
//! - [`cluster`]: the cluster, its standby, TLS and restarts.
//! - [`error`]: why one could not be had.
//! - [`system`]: binaries, accounts, ports and files around it.

#![deny(missing_docs)]

pub mod cluster;
pub mod error;
pub mod system;

pub use cluster::{ClusterOptions, DEV_DATABASE, DEV_USER, PgCluster, ServerTls};
pub use error::ClusterError;
