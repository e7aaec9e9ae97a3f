//! The HTTP face of the geofn host: the router, the host's own routes, and
//! dispatch to handlers, over the accept loop and its graceful shutdown.
//!
//! - [`router`]: the routes and the layers every request passes.
//! - [`health`]: `/livez` and `/status`, answered natively.
//! - [`api`]: `/api`, one OpenAPI document for every route, handlers' too.
//! - [`admin`]: `/admin/...`, only with an admin token; [`push`]: fleet deploys.
//! - [`admission`]: the bound on handler requests in flight.
//! - [`caller`]: a request's bearer token against its route's policy.
//! - [`dispatch`]: every other route, through the handler registry.
//! - [`schedules`]: handlers' schedules, one replica per tick;
//!   [`schedule_stats`]: this replica's runs.
//! - [`convert`]: HTTP ↔ WIT requests and responses.
//! - [`consistency`]: read-your-writes tokens, with a read replica.
//! - [`map`]: the web page at `/` for browsers, and its assets.
//! - [`problem`]: RFC 9457 error documents; [`head_limits`]: the bounds
//!   on a request's target and header fields.
//! - [`caching`]: entity tags, `304 Not Modified` and `Cache-Control`.
//! - [`request_id`]: `X-Request-Id`, kept from the client or minted here.
//! - [`state`]: what every request shares.
//! - [`server`]: the accept loop and the order of a graceful shutdown.
//! - [`shutdown`]: the one shutdown signal.

#![deny(missing_docs)]

pub mod admin;
pub mod admission;
pub mod api;
pub mod caching;
pub mod caller;
pub mod consistency;
pub mod convert;
pub mod dispatch;
pub mod head_limits;
pub mod health;
pub mod map;
pub mod problem;
pub mod push;
pub mod request_id;
pub mod router;
pub mod schedule_stats;
pub mod schedules;
pub mod server;
pub mod shutdown;
pub mod state;

pub use server::run;
pub use state::{AppState, Shared};
