//! This handler's part of the service's OpenAPI document, written from the
//! modules the handler itself answers by (`src/openapi.rs` over
//! `src/collection.rs`, pointquery's parameters and queryables), for
//! `handler_openapi!` to embed: the document cannot drift from the code.

#[path = "src/collection.rs"]
mod collection;
#[path = "src/openapi.rs"]
mod openapi;

fn main() {
    println!("cargo::rerun-if-changed=src/openapi.rs");
    println!("cargo::rerun-if-changed=src/collection.rs");
    let out = std::path::Path::new(&std::env::var("OUT_DIR").unwrap()).join("openapi.json");
    std::fs::write(out, openapi::fragment().to_string()).unwrap();
}
