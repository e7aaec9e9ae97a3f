//! Handler directories: the shipped components from `make handlers`, the
//! test-only ones, and manifests that combine them.

use std::path::{Path, PathBuf};

use tempfile::TempDir;

/// The cargo target folder the test binary was built into.
pub fn target_dir() -> PathBuf {
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_geofn"));
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>/geofn")
        .to_owned()
}

/// The shipped handlers directory assembled by `make handlers`.
pub fn shipped_handlers() -> PathBuf {
    let dir = target_dir().join("handlers");
    assert!(
        dir.join("geofn.toml").exists(),
        "{} has no geofn.toml: run `make handlers` before `cargo test`",
        dir.display()
    );
    dir
}

/// A shipped component, from `target/handlers`.
pub fn shipped(name: &str) -> PathBuf {
    existing(shipped_handlers().join(format!("{name}.wasm")))
}

/// A test-only component (`probe-v1`, `probe-v2`), from `target/test-handlers`.
pub fn test_handler(name: &str) -> PathBuf {
    existing(
        target_dir()
            .join("test-handlers")
            .join(format!("{name}.wasm")),
    )
}

fn existing(path: PathBuf) -> PathBuf {
    assert!(
        path.exists(),
        "{} missing: run `make handlers`",
        path.display()
    );
    path
}

/// The manifest entry that mounts the probe under `/probe/{action}`.
pub const PROBE_ENTRY: &str =
    "[handlers.probe]\ncomponent = \"probe.wasm\"\nroutes = [\"GET /probe/{action}\"]\n";

/// A handlers directory with `manifest` and the given files copied in.
pub fn handlers_dir(manifest: &str, files: &[(&str, PathBuf)]) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("geofn.toml"), manifest).unwrap();
    for (name, source) in files {
        std::fs::copy(source, dir.path().join(name)).unwrap();
    }
    dir
}

/// Replaces `dir/name` with `bytes` atomically (write, then rename), as
/// deploy tools and `make handlers` do.
pub fn publish(dir: &Path, name: &str, bytes: &[u8]) {
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, dir.join(name)).unwrap();
}

/// Every shipped component, as (file name, path), in `target/handlers`.
pub fn shipped_components() -> Vec<(String, PathBuf)> {
    let mut found: Vec<(String, PathBuf)> = std::fs::read_dir(shipped_handlers())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "wasm"))
        .map(|path| {
            (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                path,
            )
        })
        .collect();
    found.sort();
    assert!(
        !found.is_empty(),
        "no shipped components: run `make handlers`"
    );
    found
}

/// Writes the shipped manifest with `extra_manifest` appended, and copies
/// every shipped component plus `extra` files, into `dir`.
pub fn write_shipped_plus(dir: &Path, extra_manifest: &str, extra: &[(&str, PathBuf)]) {
    let shipped_manifest = std::fs::read_to_string(shipped_handlers().join("geofn.toml")).unwrap();
    std::fs::write(
        dir.join("geofn.toml"),
        format!("{shipped_manifest}\n{extra_manifest}"),
    )
    .unwrap();
    for (name, source) in shipped_components() {
        std::fs::copy(source, dir.join(name)).unwrap();
    }
    for (name, source) in extra {
        std::fs::copy(source, dir.join(name)).unwrap();
    }
}

/// A handlers directory: everything shipped, plus `extra_manifest` and
/// `extra` files (test components).
pub fn shipped_plus(extra_manifest: &str, extra: &[(&str, PathBuf)]) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    write_shipped_plus(dir.path(), extra_manifest, extra);
    dir
}

/// The points API written in Python (`make python-handlers`).
pub fn python_points() -> PathBuf {
    let path = target_dir().join("python-handlers/points.wasm");
    assert!(
        path.exists(),
        "{} missing: run `make python-handlers`",
        path.display()
    );
    path
}

/// Everything shipped, with the points handler in Python instead of Rust:
/// same name, routes and migrations, so the rest of the fleet is unchanged.
pub fn shipped_with_python_points() -> TempDir {
    let dir = shipped_plus("", &[]);
    std::fs::copy(python_points(), dir.path().join("points.wasm")).unwrap();
    dir
}

/// The shipped handlers plus the probe (v1).
pub fn points_and_probe() -> TempDir {
    points_and_probe_with("")
}

/// The shipped handlers plus the probe (v1) under `/probe/...`, with
/// `extra` appended to the manifest (more handlers on the probe's
/// component, or its limits).
pub fn points_and_probe_with(extra: &str) -> TempDir {
    shipped_plus(
        &format!("{PROBE_ENTRY}{extra}"),
        &[("probe.wasm", test_handler("probe-v1"))],
    )
}
