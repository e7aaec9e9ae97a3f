//! The handler's variables and secrets, as its manifest declares them
//! (`[variables]`) and the operator sets them, read through the standard
//! `wasi:config/store` interface.
//!
//! ```ignore
//! // geofn-handler.toml:  [variables]
//! //                      page_size = { default = "100" }
//! //                      token = { secret = true }
//! let page: u32 = geofn_guest::config::parsed("page_size")?;
//! let token = geofn_guest::config::require("token")?;
//! ```
//!
//! The host refuses to load a version whose required variables have no
//! value, so `require` fails only for a variable the manifest marks
//! `required = false` or does not declare. A secret is the handler's to
//! use, not to show: the host cuts secret values out of log lines, spans
//! and panic messages, but not out of responses.

use crate::bindings::wasi::config::store;
use crate::error::{Error, Result};

/// The value of `name`, or none when it is unset or not declared.
pub fn get(name: &str) -> Option<String> {
    // The host never fails a read: its values were resolved at load.
    store::get(name).ok().flatten()
}

/// The value of `name`; a 500 problem when it has none (a handler bug or
/// a deployment mistake, never the client's).
pub fn require(name: &str) -> Result<String> {
    get(name).ok_or_else(|| misconfigured(name, "has no value"))
}

/// The value of `name` parsed as `T` (numbers, booleans, ...); a 500
/// problem when it has none or does not parse.
pub fn parsed<T: std::str::FromStr>(name: &str) -> Result<T> {
    require(name)?
        .parse()
        .map_err(|_| misconfigured(name, "does not parse"))
}

fn misconfigured(name: &str, what: &str) -> Error {
    Error::new(
        500,
        "misconfigured",
        "Handler misconfigured",
        format!("the handler's variable {name:?} {what}"),
    )
}
