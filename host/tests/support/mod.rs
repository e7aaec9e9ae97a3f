//! Test harness: private PostgreSQL clusters and real `geofn` processes.
//!
//! Every test gets its own cluster (initdb in a temporary folder, a free
//! loopback port) and spawns the real binary with real components built
//! from `handlers/` by `make handlers`.
//!
//! - [`handlers`]: handler directories of shipped and test components.
//! - [`db`]: a private PostgreSQL cluster per test.
//! - [`host`]: a real `geofn` process and its logs.
//! - [`http`]: clients and raw requests against it.

#![allow(dead_code)]

pub mod admin;
pub mod auth;
pub mod db;
pub mod flood;
pub mod handlers;
pub mod host;
pub mod http;
pub mod load;
pub mod metrics;
pub mod oci;
pub mod otlp;
pub mod points;
pub mod topology;
pub mod traced;

pub use db::*;
pub use handlers::*;
pub use host::*;
pub use http::*;
