//! Host-side bindings of the `geofn:handler` world (`wit/handler.wit`),
//! generated in exactly this one place.
//!
//! Imports are async on the host so that a guest waiting on PostgreSQL parks
//! its task instead of blocking a tokio worker.

#![allow(missing_docs, unsafe_code, clippy::all)]

wasmtime::component::bindgen!({
    world: "handler",
    path: "../../wit",
    imports: {
        // A guest's own spans: a trap when it holds too many at once.
        "geofn:handler/trace.[constructor]span": async | trappable,
        "geofn:handler/trace.[method]span.set-attribute": async | trappable,
        "geofn:handler/trace.[method]span.set-error": async | trappable,
        default: async,
    },
    exports: { default: async },
    with: {
        // The standard WASI interfaces: wasmtime's own implementations.
        "wasi:http": wasmtime_wasi_http::p2::bindings::http,
        "wasi:io": wasmtime_wasi::p2::bindings::io,
        "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
        "geofn:handler/db.transaction": crate::transaction::Transaction,
        "geofn:handler/trace.span": crate::guest_spans::GuestSpan,
    },
});

pub use self::geofn::handler::db::{DbError, PackedRows, QueryFailure, Rows, Value};
pub use self::geofn::handler::log::Level;
pub use self::geofn::handler::route::Matched;
