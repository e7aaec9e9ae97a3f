//! Guest-side SDK for geofn handler components.
//!
//! Layout:
//! - [`bindings`]: the `geofn:handler` world from `wit/`, generated once here so
//!   every handler shares one set of types.
//! - [`router`]: handler functions by route template, and [`router::Ctx`]:
//!   typed path and query parameters, JSON bodies.
//! - [`error`]: `Result<impl IntoResponse, Error>`, failures as problem documents.
//! - [`sql`], [`rows`]: `db` calls with `?`, results read by column name.
//! - [`tx`]: work that commits together or not at all.
//! - [`identity`]: who is calling, as the host verified it.
//! - [`config`]: the handler's variables and secrets.
//! - [`outbound`]: calls to other services, within the allow-list.
//! - [`http`]: building responses (JSON, problem documents) and reading requests.
//! - [`geometry`]: EWKB points, the geometry values exchanged with the host's `db`.
//! - [`tiles`]: vector tiles of a table, cut and encoded by PostGIS.
//! - [`base`]: the absolute URL clients reached the service at, for links.
//! - [`packed`]: reading `query-packed` rows in place, for listings.
//! - [`manifest`]: the handler's own manifest, embedded in its component.
//! - [`wit`]: the world's interfaces and types under short names.
//! - [`prelude`]: what most handlers use.
//!
//! A handler crate routes its requests and exports itself:
//!
//! ```ignore
//! use geofn_guest::prelude::*;
//!
//! fn hello(ctx: &Ctx) -> Result<impl IntoResponse> {
//!     let name: String = ctx.param("name")?;
//!     Ok(Json(serde_json::json!({ "hello": name })))
//! }
//!
//! struct Hello;
//! impl Guest for Hello {
//!     fn handle(request: Request) -> Response {
//!         Router::new().get("/hello/{name}", hello).handle(request)
//!     }
//! }
//! geofn_guest::export_handler!(Hello);
//! geofn_guest::handler_manifest!(include_str!("../geofn-handler.toml"));
//! ```

pub mod base;
pub mod config;
#[cfg(feature = "cql2")]
pub mod cql2;
pub mod crs;
pub mod error;
pub mod geometry;
pub mod http;
pub mod identity;
pub mod manifest;
pub mod outbound;
pub mod packed;
pub mod router;
pub mod rows;
pub mod sql;
pub mod tiles;
pub mod trace;
pub mod tx;

pub mod bindings;
pub mod prelude;
pub mod rfc3339;
pub mod wit;

pub use bindings::{Guest, export_handler};
pub use wit::{Request, Response, db, log, route};
