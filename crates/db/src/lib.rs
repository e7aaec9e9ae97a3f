//! PostgreSQL/PostGIS for the geofn host: its own pool and tables, every
//! handler's role, schema, grants, migrations and pools, and what one
//! request does with the database. Its values and errors are its own
//! ([`value`]); nothing here knows wasm or HTTP, so it is tested with a
//! PostgreSQL alone.
//!
//! - [`value`]: parameters, cells, rows and errors as this layer speaks them.
//! - [`pool`]: connecting with bounded retries and checking the server at start.
//! - [`migrate`]: the host's tables, created and upgraded at start under an advisory lock.
//! - [`lock`]: advisory locks around DDL that replicas run at once.
//! - [`start`]: why the database could not be made ready.
//! - [`target`]: a connection target fit for logs.
//! - [`bind`]: values → statement parameters, checked against inferred types.
//! - [`capped_rows`]: a statement's rows, read only while they fit the handler's memory.
//! - [`decode`]: result columns → values, owned or packed.
//! - [`json_rows`]: result rows → one JSON array (`db.query-json`).
//! - [`geometry`]: EWKB ↔ `postgis` crate geometries, dimension-preserving.
//! - [`secret`]: the host's secret, and what it signs.
//! - [`host_role`]: the host's own role and what it may do.
//! - [`roles`]: every handler's own database role and schema.
//! - [`schedule_leases`]: which replica runs a schedule's tick.
//! - [`grants`]: what a handler's role may reach of other handlers'.
//! - [`handler_migrations`]: a handler's own schema steps, applied once.
//! - [`handler_databases`]: all of that for a handler set, and its pools.
//! - [`handler_pools`]: one pool per handler, its share of the connections.
//! - [`held_claims`]: which caller's claims each pooled connection holds.
//! - [`session`]: what one request's guest does with the database.
//! - [`replica`]: reads on a streaming replica, and when not to.
//! - [`statement_policy`]: what SQL a handler may send, judged by its text.
//! - [`tls`]: rustls with libpq's `sslmode` meanings.
//! - [`resolve`]: the server's name looked up hedged, for every connection.

#![deny(missing_docs)]

pub mod bind;
pub mod capped_rows;
pub mod decode;
pub mod geometry;
pub mod grants;
pub mod handler_databases;
pub mod handler_migrations;
pub mod handler_pools;
pub mod held_claims;
pub mod host_role;
pub mod json_rows;
pub mod lock;
pub mod migrate;
pub mod pool;
pub mod replica;
pub mod resolve;
pub mod roles;
pub mod schedule_leases;
pub mod secret;
pub mod session;
pub mod start;
pub mod statement_policy;
pub mod target;
pub mod tls;
pub mod value;

pub use deadpool_postgres::Pool;
