//! The probe's embedded manifest, chosen at build time so the tests get
//! versions of the same handler whose migrations or variables differ:
//! PROBE_MIGRATIONS is `base` (default), `edited` (0001 changed), `more`
//! (0001 and 0002), `broken` (0001 and a 0002 that fails half-way) or
//! `needs-secret` (base, its `token` secret required).

use std::path::Path;

fn main() {
    println!("cargo::rerun-if-env-changed=PROBE_MIGRATIONS");
    println!("cargo::rerun-if-changed=migrations");
    let variant = std::env::var("PROBE_MIGRATIONS").unwrap_or_else(|_| "base".into());
    let read = |name: &str| std::fs::read_to_string(format!("migrations/{name}.toml")).unwrap();
    let (migrations, variables) = match variant.as_str() {
        "base" => (read("base"), read("variables")),
        "edited" => (read("edited"), read("variables")),
        "more" | "broken" => (read("base") + "\n" + &read(&variant), read("variables")),
        "needs-secret" => (read("base"), read("needs-secret")),
        other => panic!("PROBE_MIGRATIONS={other:?}: base, edited, more, broken or needs-secret"),
    };
    let out = Path::new(&std::env::var("OUT_DIR").unwrap()).join("geofn-handler.toml");
    std::fs::write(out, variables + "\n" + &migrations).unwrap();
}
