//! Generated from `wit/handler.wit`; see that file for the contract.

#![allow(missing_docs, unsafe_code, clippy::all)]

wit_bindgen::generate!({
    world: "handler",
    path: "../../wit",
    pub_export_macro: true,
    export_macro_name: "export_handler",
    default_bindings_module: "geofn_guest::bindings",
    // The standard WASI interfaces the world imports, generated here too.
    with: { "wasi:config/store@0.2.0-rc.1": generate },
});
