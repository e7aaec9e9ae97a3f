//! Guest-side SDK for geofn handler components.
//!
//! Layout:
//! - [`bindings`]: the `geofn:handler` world from `wit/`, generated once here so
//!   every handler shares one set of types.
//! - [`http`]: building responses (JSON, problem documents) and reading requests
//!   (query parameters, headers, path segments).
//! - [`geometry`]: EWKB points, the geometry values exchanged with the host's `db`.
//! - [`packed`]: reading `query-packed` rows in place, for listings.
//! - [`sql`]: turning `db` failures into the HTTP answers clients should get.
//!
//! A handler crate implements [`bindings::Guest`] and calls [`export_handler!`]:
//!
//! ```ignore
//! struct Points;
//! impl geofn_guest::Guest for Points {
//!     fn handle(request: Request) -> Response { ... }
//! }
//! geofn_guest::export_handler!(Points);
//! ```

pub mod geometry;
pub mod http;
pub mod packed;
pub mod sql;

#[allow(missing_docs, unsafe_code, clippy::all)]
pub mod bindings {
    //! Generated from `wit/handler.wit`; see that file for the contract.
    wit_bindgen::generate!({
        world: "handler",
        path: "../../wit",
        pub_export_macro: true,
        export_macro_name: "export_handler",
        default_bindings_module: "geofn_guest::bindings",
    });
}

pub use bindings::geofn::handler::db;
pub use bindings::geofn::handler::log;
pub use bindings::geofn::handler::types::{Request, Response};
pub use bindings::{Guest, export_handler};
