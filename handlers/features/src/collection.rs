//! The collection this API serves and its page sizes: what the handler
//! answers by and what `build.rs` documents, from one place.

use pointquery::filter::Limits;

/// The one collection this API serves.
pub const COLLECTION: &str = "points";
/// `limit` of item listings: OGC's example default, and the points API's maximum.
pub const LIMITS: Limits = Limits {
    default: 10,
    max: 10_000,
};
