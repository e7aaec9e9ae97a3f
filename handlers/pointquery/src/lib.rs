//! Spatial queries over the `points` table, shared by the `points` handler
//! (`GET /points`) and the OGC API – Features handler, so both filter,
//! page and render the same way.
//!
//! - [`filter`]: `bbox`, `near` + `radius`, `datetime`, `limit`, `cursor` from a query string.
//! - [`datetime`]: `datetime`, an instant or an interval over `created_at`.
//! - [`cursor`]: opaque keyset cursors.
//! - [`store`]: the SQL, always parameterised and shaped for the GiST indexes.
//! - [`geojson`]: Features and FeatureCollections.
//! - [`rendered`]: listings in the guide's wire format, rendered by the host.
//! - [`openapi`]: those parameters as OpenAPI says them, for `/api`.
//! - [`queryables`]: what CQL2 filters may name, and the columns they read.

pub mod cursor;
pub mod datetime;
pub mod filter;
pub mod geojson;
pub mod matched;
pub mod openapi;
pub mod queryables;
pub mod rendered;
pub mod store;

pub use cursor::Cursor;
pub use datetime::{TimeBound, TimeRange};
pub use filter::{Bbox, Limits, Near, Query};
pub use store::{Page, Point};

/// The query string of the next page: the request's own parameters with
/// `cursor` replaced.
pub fn next_query(pairs: &[(String, String)], cursor: &Cursor) -> String {
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (key, value) in pairs.iter().filter(|(k, _)| k != "cursor") {
        out.append_pair(key, value);
    }
    out.append_pair("cursor", &cursor.encode());
    out.finish()
}
