//! The formats the geofn host and its guests both read and write, defined
//! once so the two sides cannot drift apart. The WIT world
//! (`wit/handler.wit`) says what crosses the boundary; this crate says how
//! the byte-level parts of it are laid out.
//!
//! - [`packed`]: the `packed-rows` layout of `db.query-packed`.
//! - [`problem`]: RFC 9457 problem documents, the shape of every error.
//! - [`ewkb`]: EWKB headers and points, how geometries travel.

pub mod ewkb;
pub mod packed;
pub mod problem;
