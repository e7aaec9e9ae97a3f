//! The probe's embedded manifest, chosen at build time so the tests get
//! versions of the same handler whose migrations differ: PROBE_MIGRATIONS
//! is `base` (default), `edited` (0001 changed), `more` (0001 and 0002) or
//! `broken` (0001 and a 0002 that fails half-way).

use std::path::Path;

fn main() {
    println!("cargo::rerun-if-env-changed=PROBE_MIGRATIONS");
    println!("cargo::rerun-if-changed=migrations");
    let variant = std::env::var("PROBE_MIGRATIONS").unwrap_or_else(|_| "base".into());
    let read = |name: &str| std::fs::read_to_string(format!("migrations/{name}.toml")).unwrap();
    let manifest = match variant.as_str() {
        "base" => read("base"),
        "edited" => read("edited"),
        "more" | "broken" => read("base") + "\n" + &read(&variant),
        other => panic!("PROBE_MIGRATIONS={other:?}: base, edited, more or broken"),
    };
    let out = Path::new(&std::env::var("OUT_DIR").unwrap()).join("geofn-handler.toml");
    std::fs::write(out, manifest).unwrap();
}
