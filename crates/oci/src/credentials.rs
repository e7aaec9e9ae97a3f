//! Registry credentials where container tools keep them: the auth file
//! podman, skopeo and buildah use (`REGISTRY_AUTH_FILE`, else
//! `$XDG_RUNTIME_DIR/containers/auth.json`), then Docker's
//! (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`), each an
//! `auths` object keyed by registry. A Kubernetes `dockerconfigjson`
//! Secret mounted as a file and named by `REGISTRY_AUTH_FILE` reads the
//! same. Credential helpers are not run. Nothing here is ever logged.

use std::path::PathBuf;

use base64::Engine as _;
use oci_client::secrets::RegistryAuth;
use serde::Deserialize;

#[derive(Deserialize)]
struct AuthFile {
    #[serde(default)]
    auths: std::collections::BTreeMap<String, Entry>,
}

#[derive(Deserialize)]
struct Entry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

/// The auth files looked in, in order.
fn auth_files() -> Vec<PathBuf> {
    let var = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let mut files = Vec::new();
    if let Some(file) = var("REGISTRY_AUTH_FILE") {
        files.push(file);
    }
    if let Some(runtime) = var("XDG_RUNTIME_DIR") {
        files.push(runtime.join("containers/auth.json"));
    }
    match (var("DOCKER_CONFIG"), var("HOME")) {
        (Some(dir), _) => files.push(dir.join("config.json")),
        (None, Some(home)) => files.push(home.join(".docker/config.json")),
        _ => {}
    }
    files
}

/// How to authenticate to `registry` (`host[:port]`): the first auth
/// file's entry for it, else anonymously.
pub fn for_registry(registry: &str) -> RegistryAuth {
    for file in auth_files() {
        let Ok(text) = std::fs::read(&file) else {
            continue;
        };
        let Ok(parsed) = serde_json::from_slice::<AuthFile>(&text) else {
            tracing::warn!(auth.file = %file.display(), "a registry auth file that does not parse; skipped");
            continue;
        };
        if let Some(auth) = parsed
            .auths
            .iter()
            .find(|(key, _)| names(key, registry))
            .and_then(|(_, entry)| basic(entry))
        {
            return auth;
        }
    }
    RegistryAuth::Anonymous
}

/// Whether an `auths` key (`host`, `host:port`, `https://host/v1/`, ...)
/// names `registry`.
fn names(key: &str, registry: &str) -> bool {
    let host = key
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap_or_default();
    host == registry || (registry == "docker.io" && host == "index.docker.io")
}

fn basic(entry: &Entry) -> Option<RegistryAuth> {
    if let (Some(user), Some(password)) = (&entry.username, &entry.password) {
        return Some(RegistryAuth::Basic(user.clone(), password.clone()));
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(entry.auth.as_deref()?)
        .ok()?;
    let (user, password) = std::str::from_utf8(&decoded).ok()?.split_once(':')?;
    Some(RegistryAuth::Basic(user.to_owned(), password.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_name_registries_with_or_without_scheme_and_path() {
        assert!(names("127.0.0.1:5000", "127.0.0.1:5000"));
        assert!(names("https://registry.example/v1/", "registry.example"));
        assert!(!names("registry.example", "registry.example:5000"));
        assert!(names("https://index.docker.io/v1/", "docker.io"));
        let entry = Entry {
            auth: Some(base64::engine::general_purpose::STANDARD.encode("ci:s3cret:x")),
            username: None,
            password: None,
        };
        assert_eq!(
            basic(&entry),
            Some(RegistryAuth::Basic("ci".into(), "s3cret:x".into()))
        );
    }
}
