//! `geofn dev`: a private PostgreSQL + PostGIS cluster from the system's
//! binaries, so one command runs the whole service on a fresh machine. The
//! test harness starts its clusters with the same code.

pub mod cluster;

pub use cluster::{ClusterError, ClusterOptions, PgCluster, ServerTls};
