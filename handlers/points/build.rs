//! This handler's part of the service's OpenAPI document, written from the
//! bounds the handler itself checks (`src/openapi.rs` over `src/bounds.rs`
//! and pointquery's parameters), for `handler_openapi!` to embed: the
//! document cannot drift from the code.

#[path = "src/bounds.rs"]
mod bounds;
#[path = "src/openapi.rs"]
mod openapi;

fn main() {
    println!("cargo::rerun-if-changed=src/openapi.rs");
    println!("cargo::rerun-if-changed=src/bounds.rs");
    let out = std::path::Path::new(&std::env::var("OUT_DIR").unwrap()).join("openapi.json");
    std::fs::write(out, openapi::fragment().to_string()).unwrap();
}
