//! The `geofn:handler` world's interfaces and request types, under the
//! short names the SDK and handlers use.

pub use crate::bindings::geofn::handler::types::{Request, Response};
pub use crate::bindings::geofn::handler::{db, identity, log, route};
