//! Resolving a handler version's variables from what the operator
//! supplied, when the version loads: so a version whose required variable
//! has no value is refused like a failed migration, and the running one
//! keeps serving.
//!
//! Where a value comes from, first found wins:
//!
//! 1. the environment: `GEOFN_VAR_<HANDLER>_<NAME>` (`GEOFN_VAR_FEEDS_TOKEN`);
//! 2. the variables directory (`--vars-dir`), as a Kubernetes Secret or
//!    ConfigMap mounts: a file `<handler>/<name>` or `<handler>.<name>`,
//!    one trailing newline dropped;
//! 3. `geofn.toml`'s `[handlers.NAME.variables]`, for values that are not
//!    secret (a secret set there is refused: that file is not secret);
//! 4. the default the handler's own manifest declares.
//!
//! Files are read at every load, and the reload loop watches the
//! directory: a rotated Secret (or a value added for a version that was
//! refused for want of it) takes effect without a restart.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use geofn_contract::variables::{Variables, environment_name};
use geofn_runtime::variables::HandlerVariables;

/// Largest value accepted, from any source: variables are settings and
/// keys, not documents.
pub const MAX_VALUE_BYTES: usize = 64 << 10;

/// Where operators put values, besides `geofn.toml`.
#[derive(Debug, Clone, Default)]
pub struct VariableSources {
    /// The variables directory, if the host was given one.
    pub dir: Option<PathBuf>,
}

/// Where one variable's value came from, for `/admin/handlers`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// `GEOFN_VAR_<HANDLER>_<NAME>`.
    Environment,
    /// A file in the variables directory.
    File,
    /// `geofn.toml`.
    Manifest,
    /// The handler's declared default.
    Default,
    /// No value; the variable is optional.
    Unset,
}

/// One declared variable as loaded: never its value.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VariableState {
    /// Its name.
    pub name: String,
    /// Whether its value is kept out of everything the host writes.
    pub secret: bool,
    /// Where the value came from.
    pub source: Source,
}

/// A version's variables, resolved.
#[derive(Debug, Default)]
pub struct Resolved {
    /// What the guest reads.
    pub values: Arc<HandlerVariables>,
    /// What operators see.
    pub states: Vec<VariableState>,
}

/// Why a version's variables could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum VariableError {
    /// A required variable has no value anywhere.
    #[error(
        "required variable {name:?} has no value: set {env}, or put a file {handler}.{name} in \
         the variables directory (--vars-dir)"
    )]
    Missing {
        /// Handler name.
        handler: String,
        /// Variable name.
        name: String,
        /// The environment variable that would set it.
        env: String,
    },
    /// `geofn.toml` sets a value the component does not declare.
    #[error("geofn.toml sets variable {0:?}, which the handler does not declare")]
    Undeclared(String),
    /// `geofn.toml` sets a secret.
    #[error(
        "geofn.toml sets secret variable {0:?}: secrets come from the environment or the \
         variables directory, never from geofn.toml"
    )]
    SecretInManifest(String),
    /// A value that cannot be one: not UTF-8, too long, unreadable.
    #[error("variable {name:?}: {why}")]
    Unusable {
        /// Variable name.
        name: String,
        /// What is wrong (never the value).
        why: String,
    },
}

impl VariableError {
    /// A short, stable label for metrics and logs.
    pub fn reason(&self) -> &'static str {
        match self {
            VariableError::Missing { .. } => "variable-missing",
            _ => "variable-invalid",
        }
    }
}

impl VariableSources {
    /// `handler`'s `declared` variables with their values, `configured`
    /// being what `geofn.toml` sets.
    pub fn resolve(
        &self,
        handler: &str,
        declared: &Variables,
        configured: &BTreeMap<String, String>,
    ) -> Result<Resolved, VariableError> {
        for (name, value) in configured {
            match declared.get(name) {
                None => return Err(VariableError::Undeclared(name.clone())),
                Some(variable) if variable.secret => {
                    return Err(VariableError::SecretInManifest(name.clone()));
                }
                Some(_) => check_size(name, value)?,
            }
        }
        let mut values = Vec::with_capacity(declared.len());
        let mut states = Vec::with_capacity(declared.len());
        for (name, variable) in declared {
            let found = match self.supplied(handler, name)? {
                Some(found) => Some(found),
                None => configured
                    .get(name)
                    .map(|value| (value.clone(), Source::Manifest))
                    .or_else(|| variable.default.clone().map(|v| (v, Source::Default))),
            };
            let source = match found {
                Some((value, source)) => {
                    values.push((name.clone(), value, variable.secret));
                    source
                }
                None if variable.is_required() => {
                    return Err(VariableError::Missing {
                        handler: handler.to_owned(),
                        name: name.clone(),
                        env: environment_name(handler, name),
                    });
                }
                None => Source::Unset,
            };
            states.push(VariableState {
                name: name.clone(),
                secret: variable.secret,
                source,
            });
        }
        Ok(Resolved {
            values: Arc::new(HandlerVariables::new(values)),
            states,
        })
    }

    /// What the variables directory holds, as metadata (names, sizes,
    /// times, inodes; never contents, which are secret): part of a
    /// snapshot's fingerprint, so a changed file reloads the set.
    pub async fn fingerprint(&self) -> Option<String> {
        use sha2::{Digest, Sha256};
        let dir = self.dir.as_ref()?;
        let mut hasher = Sha256::new();
        for (name, len, modified, inode) in stat_tree(dir).await {
            hasher.update(format!("{name}\0{len}\0{modified:?}\0{inode}\n"));
        }
        Some(hex::encode(hasher.finalize()))
    }

    /// A value the operator supplied outside `geofn.toml`.
    fn supplied(
        &self,
        handler: &str,
        name: &str,
    ) -> Result<Option<(String, Source)>, VariableError> {
        if let Some(value) = std::env::var_os(environment_name(handler, name)) {
            let value = value.into_string().map_err(|_| VariableError::Unusable {
                name: name.to_owned(),
                why: format!("{} is not UTF-8", environment_name(handler, name)),
            })?;
            check_size(name, &value)?;
            return Ok(Some((value, Source::Environment)));
        }
        let Some(dir) = &self.dir else {
            return Ok(None);
        };
        for path in [
            dir.join(handler).join(name),
            dir.join(format!("{handler}.{name}")),
        ] {
            if let Some(value) = read_value(name, &path)? {
                return Ok(Some((value, Source::File)));
            }
        }
        Ok(None)
    }
}

/// Metadata of every file in `dir` and in its subfolders (one level, for
/// `<handler>/<name>`), symlinks followed: a Kubernetes volume update swaps
/// its `..data` link, changing every file's inode. Its own `..` entries
/// are skipped.
async fn stat_tree(dir: &Path) -> Vec<(String, u64, Option<std::time::SystemTime>, u64)> {
    use std::os::unix::fs::MetadataExt;
    let mut found = Vec::new();
    let mut pending = vec![(dir.to_owned(), String::new(), true)];
    while let Some((folder, prefix, descend)) = pending.pop() {
        let Ok(mut entries) = tokio::fs::read_dir(&folder).await else {
            continue;
        };
        while let Ok(Some(entry)) = entries.next_entry().await {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with("..") {
                continue;
            }
            let Ok(meta) = tokio::fs::metadata(entry.path()).await else {
                continue;
            };
            let path = format!("{prefix}{name}");
            if meta.is_dir() {
                if descend {
                    pending.push((entry.path(), format!("{path}/"), false));
                }
                continue;
            }
            found.push((path, meta.len(), meta.modified().ok(), meta.ino()));
        }
    }
    found.sort();
    found
}

/// The value in `path`, without one trailing newline; none when there is
/// no such file.
fn read_value(name: &str, path: &Path) -> Result<Option<String>, VariableError> {
    let unusable = |why: String| VariableError::Unusable {
        name: name.to_owned(),
        why,
    };
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(unusable(format!("cannot read {}: {err}", path.display()))),
    };
    let mut value = String::from_utf8(bytes)
        .map_err(|_| unusable(format!("{} is not UTF-8", path.display())))?;
    if value.ends_with('\n') {
        value.pop();
        if value.ends_with('\r') {
            value.pop();
        }
    }
    check_size(name, &value)?;
    Ok(Some(value))
}

fn check_size(name: &str, value: &str) -> Result<(), VariableError> {
    if value.len() > MAX_VALUE_BYTES {
        return Err(VariableError::Unusable {
            name: name.to_owned(),
            why: format!(
                "its value is {} bytes; at most {MAX_VALUE_BYTES}",
                value.len()
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use geofn_contract::variables::Variable;

    fn declared() -> Variables {
        let mut variables = Variables::new();
        variables.insert(
            "every".into(),
            Variable {
                default: Some("300s".into()),
                ..Variable::default()
            },
        );
        variables.insert(
            "token".into(),
            Variable {
                secret: true,
                ..Variable::default()
            },
        );
        variables.insert(
            "region".into(),
            Variable {
                required: Some(false),
                ..Variable::default()
            },
        );
        variables
    }

    #[test]
    fn files_in_either_layout_then_geofn_toml_then_defaults() {
        let dir = tempfile::tempdir().unwrap();
        // The handler name is unique to this test: the environment is the
        // process's, shared by tests running at once.
        std::fs::write(dir.path().join("vt-files.token"), "k3y\n").unwrap();
        let sources = VariableSources {
            dir: Some(dir.path().to_owned()),
        };
        let configured = BTreeMap::from([("every".to_owned(), "60s".to_owned())]);
        let resolved = sources
            .resolve("vt-files", &declared(), &configured)
            .unwrap();
        assert_eq!(resolved.values.get("token"), Some("k3y"));
        assert_eq!(resolved.values.get("every"), Some("60s"));
        assert_eq!(resolved.values.get("region"), None);
        let sources_of: Vec<_> = resolved.states.iter().map(|s| s.source).collect();
        assert_eq!(sources_of, [Source::Manifest, Source::Unset, Source::File]);
        assert_eq!(resolved.values.redact("k3y"), "[secret]");

        std::fs::create_dir(dir.path().join("vt-files")).unwrap();
        std::fs::write(dir.path().join("vt-files/token"), "other").unwrap();
        let resolved = sources
            .resolve("vt-files", &declared(), &BTreeMap::new())
            .unwrap();
        assert_eq!(resolved.values.get("token"), Some("other"));
        assert_eq!(resolved.values.get("every"), Some("300s"));
    }

    #[test]
    fn a_missing_secret_names_where_to_put_it() {
        let err = VariableSources::default()
            .resolve("vt-missing", &declared(), &BTreeMap::new())
            .unwrap_err();
        assert_eq!(err.reason(), "variable-missing");
        let said = err.to_string();
        assert!(said.contains("GEOFN_VAR_VT_MISSING_TOKEN"), "{said}");
    }

    #[test]
    fn geofn_toml_may_not_set_secrets_or_unknown_names() {
        for (name, why) in [("token", "secret"), ("nope", "does not declare")] {
            let configured = BTreeMap::from([(name.to_owned(), "x".to_owned())]);
            let err = VariableSources::default()
                .resolve("vt-toml", &declared(), &configured)
                .unwrap_err()
                .to_string();
            assert!(err.contains(why), "{err}");
            assert!(!err.contains("\"x\""), "no value in {err}");
        }
    }

    #[test]
    fn oversized_values_are_refused_without_quoting_them() {
        let dir = tempfile::tempdir().unwrap();
        let huge = "z".repeat(MAX_VALUE_BYTES + 1);
        std::fs::write(dir.path().join("vt-huge.token"), &huge).unwrap();
        let err = VariableSources {
            dir: Some(dir.path().to_owned()),
        }
        .resolve("vt-huge", &declared(), &BTreeMap::new())
        .unwrap_err()
        .to_string();
        assert!(err.contains("at most") && !err.contains("zzz"), "{err}");
    }
}
