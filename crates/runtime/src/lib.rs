//! The wasm side of the geofn host: one engine, components compiled once
//! and pre-linked once, a fresh limited store per request, and the host
//! imports a handler calls. This is where WIT types meet the database
//! layer's, in [`db_values`] alone.
//!
//! - [`engine`]: the engine, the linker, compiling, the epoch ticker.
//! - [`bindings`]: the `geofn:handler` WIT world, generated once.
//! - [`transaction`]: the host side of the guest's `db.transaction`.
//! - [`db_values`]: WIT `db` values, rows and errors ↔ `geofn_db`'s.
//! - `db_call`: a guest's database call in metrics, logs and its trace span.
//! - [`guest`]: the store's data: WASI with nothing granted, the request's
//!   database session, and the `log`/`route`/`identity`/`trace` imports on
//!   it; `db_imports`: the `db` import; `config_store`: `wasi:config/store`.
//! - [`variables`]: what a handler reads through `wasi:config/store`, and
//!   the secrets kept out of everything the host writes.
//! - [`outbound`]: `wasi:http/outgoing-handler`, behind the allow-list and
//!   the host's own address vetting.
//! - [`guest_spans`]: the host side of the guest's `trace.span`.
//! - [`call`]: one request through one handler, with its deadline.
//! - [`limits`]: per-handler limits and their defaults.
//! - [`memory_watch`]: the store's limiter, with the largest memory seen.
//! - [`budget`]: the memory budget the instances alive at once share.
//! - [`reuse`]: opt-in bounded reuse of a handler's instances.
//! - [`reset`]: how instance slots are wiped between requests.
//! - [`artifacts`]: compiled components cached on disk.
//! - [`system`]: what the kernel says about memory and swap.

#![deny(missing_docs)]

pub mod artifacts;
pub mod bindings;
pub mod budget;
pub mod call;
mod config_store;
mod db_call;
mod db_imports;
pub mod db_values;
pub mod engine;
pub mod guest;
pub mod guest_spans;
pub mod limits;
pub mod memory_watch;
pub mod outbound;
pub mod reset;
pub mod reuse;
pub mod system;
mod text;
mod throttle;
pub mod ticker;
pub mod transaction;
pub mod variables;

pub use call::{Answer, CallError, CallInputs, Called, Warm};
pub use engine::{CompileError, EPOCH_TICK, MAX_CONCURRENT_INSTANCES, Runtime, RuntimeSettings};
pub use guest::GuestState;
pub use limits::Limits;
