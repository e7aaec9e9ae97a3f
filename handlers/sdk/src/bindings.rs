//! Generated from `wit/handler.wit`; see that file for the contract.

#![allow(missing_docs, unsafe_code, clippy::all)]

wit_bindgen::generate!({
    world: "handler",
    path: "../../wit",
    pub_export_macro: true,
    export_macro_name: "export_handler",
    default_bindings_module: "geofn_guest::bindings",
    // The standard WASI interfaces the world imports (wasi:config,
    // wasi:http and what it uses), generated here too.
    generate_all,
});
