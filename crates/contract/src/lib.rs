//! The formats the geofn host and its guests both read and write, defined
//! once so the two sides cannot drift apart. The WIT world
//! (`wit/handler.wit`) says what crosses the boundary; this crate says how
//! the byte-level parts of it are laid out, and how a handler describes
//! itself.
//!
//! - [`packed`]: the `packed-rows` layout of `db.query-packed`.
//! - [`problem`]: RFC 9457 problem documents, the shape of every error.
//! - [`ewkb`]: EWKB headers and points, how geometries travel.
//! - [`forwarded`]: the URL clients reached the service at, behind proxies.
//!
//! With the `manifest` feature (the host's; guests need not compile TOML):
//!
//! - [`manifest`]: `geofn.toml`, which component answers which routes.
//! - [`embedded`]: the manifest a component carries inside itself.
//! - [`openapi`]: its part of the service's OpenAPI document, beside it.
//! - [`names`], [`route`], [`limits`], [`access`], [`auth`], [`variables`],
//!   [`outbound`], [`schedules`]: the parts both share.

#![deny(missing_docs)]

pub mod ewkb;
pub mod forwarded;
pub mod packed;
pub mod problem;

#[cfg(feature = "manifest")]
pub mod access;
#[cfg(feature = "manifest")]
pub mod auth;
#[cfg(feature = "manifest")]
pub mod embedded;
#[cfg(feature = "manifest")]
pub mod limits;
#[cfg(feature = "manifest")]
pub mod manifest;
#[cfg(feature = "manifest")]
pub mod names;
#[cfg(feature = "manifest")]
pub mod openapi;
#[cfg(feature = "manifest")]
pub mod outbound;
#[cfg(feature = "manifest")]
pub mod route;
#[cfg(feature = "manifest")]
pub mod schedules;
#[cfg(feature = "manifest")]
pub mod variables;
