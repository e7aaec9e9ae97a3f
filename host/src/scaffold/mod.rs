//! `geofn new NAME`: a handler of its own, anywhere, that builds with
//! nothing but a package registry and deploys as is (`geofn push`): a Rust
//! crate (`cargo build --release --target wasm32-wasip2`), or with `--lang
//! python` a Python module (`./build.sh`: componentize-py from PyPI). It
//! carries what it builds against: the guest SDK and the WIT world of this
//! very host, vendored, so it needs nothing from the geofn repository.
//!
//! The generated handler is a working example over a table of its own
//! (GeoJSON point features: POST, GET by id, GET by bbox), with its
//! migration and routes in `geofn-handler.toml`, embedded in the component.

use std::path::{Path, PathBuf};

use files::{PYTHON_TEMPLATE, PYTHON_VENDORED, TEMPLATE, VENDORED, WIT};

mod files;

/// The componentize-py a generated Python handler builds with: the one
/// `make python-handlers` pins (a test keeps them equal).
pub const COMPONENTIZE_PY_VERSION: &str = "0.25.1";

/// What a new handler is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Lang {
    /// A Rust crate on the guest SDK.
    #[default]
    Rust,
    /// A Python module on the Python SDK, built by componentize-py.
    Python,
}

/// Versions of the crates the generated ones depend on: this workspace's.
pub const DEPENDENCIES: &[(&str, &str)] = &[
    ("serde", "1"),
    ("serde_json", "1"),
    ("thiserror", "2"),
    ("toml", "1"),
    ("croner", "4"),
    ("humantime", "2"),
    ("form_urlencoded", "1"),
    ("wit-bindgen", "0.63"),
    ("cql2", "0.6"),
    ("geo-types", "0.7"),
    ("wkt", "0.14"),
    ("geojson", "0.24"),
];

/// Why a handler crate could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    /// The name cannot be a handler's, or a table's.
    #[error(
        "{0:?} cannot name a handler: 1-40 characters of a-z, 0-9 and -, starting with a letter"
    )]
    BadName(String),
    /// The folder is there and not empty.
    #[error("{0} exists and is not empty")]
    NotEmpty(PathBuf),
    /// A file could not be written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Writes the handler `name`, in `lang`, into `dir`; returns the files
/// written.
pub fn new_handler(name: &str, dir: &Path, lang: Lang) -> Result<Vec<PathBuf>, ScaffoldError> {
    let valid = (1..=40).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && geofn_contract::names::valid_name(name);
    if !valid {
        return Err(ScaffoldError::BadName(name.to_owned()));
    }
    if dir
        .read_dir()
        .is_ok_and(|mut entries| entries.next().is_some())
    {
        return Err(ScaffoldError::NotEmpty(dir.to_owned()));
    }
    let table = name.replace('-', "_");
    let (template, vendored) = match lang {
        Lang::Rust => (TEMPLATE, VENDORED),
        Lang::Python => (PYTHON_TEMPLATE, PYTHON_VENDORED),
    };
    let mut written = Vec::new();
    for (path, text) in template {
        let mut text = text
            .replace("{{name}}", name)
            .replace("{{table}}", &table)
            .replace("{{NAME}}", &table.to_ascii_uppercase())
            .replace("{{crate}}", &table)
            .replace("{{version}}", env!("CARGO_PKG_VERSION"))
            .replace("{{componentize_py}}", COMPONENTIZE_PY_VERSION);
        for (krate, version) in DEPENDENCIES {
            text = text.replace(&format!("{{{{{krate}}}}}"), version);
        }
        written.push(write(dir, path, &text)?);
    }
    for (path, text) in vendored.iter().chain(WIT) {
        written.push(write(dir, path, text)?);
    }
    if lang == Lang::Python {
        make_executable(&dir.join("build.sh"))?;
    }
    Ok(written)
}

fn make_executable(path: &Path) -> Result<(), ScaffoldError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).map_err(|source| {
        ScaffoldError::Io {
            path: path.to_owned(),
            source,
        }
    })
}

fn write(dir: &Path, path: &str, text: &str) -> Result<PathBuf, ScaffoldError> {
    let path = dir.join(path);
    let io = |source| ScaffoldError::Io {
        path: path.clone(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    std::fs::write(&path, text).map_err(io)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sdk_and_contract_file_is_vendored() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        for (crate_dir, vendored) in [
            ("handlers/sdk/src", "vendor/geofn-guest/src"),
            ("crates/contract/src", "vendor/geofn-contract/src"),
        ] {
            let mut dirs = vec![String::new()];
            while let Some(sub) = dirs.pop() {
                for entry in std::fs::read_dir(root.join(crate_dir).join(&sub)).unwrap() {
                    let entry = entry.unwrap();
                    let file = format!("{sub}{}", entry.file_name().into_string().unwrap());
                    if entry.file_type().unwrap().is_dir() {
                        dirs.push(format!("{file}/"));
                        continue;
                    }
                    let path = format!("{vendored}/{file}");
                    assert!(
                        VENDORED.iter().any(|(p, _)| *p == path),
                        "{crate_dir}/{file} is not vendored by geofn new"
                    );
                }
            }
        }
    }

    #[test]
    fn every_python_sdk_file_is_vendored() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        for entry in std::fs::read_dir(root.join("handlers/python/sdk/geofn")).unwrap() {
            let file = entry.unwrap().file_name().into_string().unwrap();
            if file.ends_with(".py") {
                let path = format!("geofn/{file}");
                assert!(
                    PYTHON_VENDORED.iter().any(|(p, _)| *p == path),
                    "handlers/python/sdk/geofn/{file} is not vendored by geofn new --lang python"
                );
            }
        }
    }

    #[test]
    fn componentize_py_is_the_makefiles() {
        let makefile = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Makefile");
        let pinned = format!("COMPONENTIZE_PY_VERSION := {COMPONENTIZE_PY_VERSION}");
        assert!(
            std::fs::read_to_string(makefile)
                .unwrap()
                .lines()
                .any(|line| line == pinned),
            "the Makefile does not pin {pinned}"
        );
    }

    #[test]
    fn a_python_handler_is_a_module_its_manifest_and_the_vendored_sdk() {
        let dir = tempfile::tempdir().unwrap();
        new_handler("my-places", dir.path(), Lang::Python).unwrap();
        let app = std::fs::read_to_string(dir.path().join("app.py")).unwrap();
        assert!(
            app.contains("INSERT INTO my_places") && app.contains("@app.get(\"/my-places/{id}\")"),
            "{app}"
        );
        for file in ["app.py", "geofn-handler.toml", "build.sh", "README.md"] {
            let text = std::fs::read_to_string(dir.path().join(file)).unwrap();
            assert!(!text.contains("{{"), "{file} keeps a placeholder");
        }
        assert!(dir.path().join("geofn/db.py").exists());
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("build.sh"))
            .unwrap()
            .permissions()
            .mode();
        assert!(mode & 0o111 != 0, "build.sh is not executable");
    }

    #[test]
    fn dependency_versions_are_the_workspaces() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
        let manifest: toml::Value =
            toml::from_str(&std::fs::read_to_string(root).unwrap()).unwrap();
        let workspace = &manifest["workspace"]["dependencies"];
        for (krate, version) in DEPENDENCIES {
            let declared = match &workspace[*krate] {
                toml::Value::String(v) => v.clone(),
                table => table["version"].as_str().unwrap().to_owned(),
            };
            assert_eq!(&declared, version, "{krate}");
        }
    }

    #[test]
    fn names_and_folders_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        for bad in ["", "Demo", "9lives", "a_b", "public", &"x".repeat(41)] {
            assert!(new_handler(bad, dir.path(), Lang::Rust).is_err(), "{bad:?}");
        }
        let written = new_handler("my-places", dir.path(), Lang::Rust).unwrap();
        assert!(written.iter().any(|p| p.ends_with("src/lib.rs")));
        let lib = std::fs::read_to_string(dir.path().join("src/lib.rs")).unwrap();
        assert!(
            lib.contains("INSERT INTO my_places") && !lib.contains("{{"),
            "{lib}"
        );
        let cargo = std::fs::read_to_string(dir.path().join("Cargo.toml")).unwrap();
        assert!(cargo.contains("name = \"my-places\"") && !cargo.contains("{{"));
        assert!(matches!(
            new_handler("again", dir.path(), Lang::Rust),
            Err(ScaffoldError::NotEmpty(_))
        ));
    }
}
