//! A real OCI registry on loopback: Debian's `docker-registry` (CNCF
//! Distribution), plain HTTP, HTTPS with a CA made here and htpasswd basic
//! auth, or bearer tokens from a token server of its own (the scheme of
//! Docker Hub, GHCR, Harbor...); its storage is a folder the test can reach into, and raw
//! pushes write what no well-behaved client would (two layers, an image
//! manifest, a size that lies).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use tempfile::TempDir;

pub mod token;

/// A running registry.
pub struct TestRegistry {
    child: Child,
    /// `127.0.0.1:PORT`
    pub host: String,
    root: TempDir,
    /// The CA its certificate chains to, when it speaks HTTPS.
    pub ca_file: Option<PathBuf>,
    /// An auth file (`REGISTRY_AUTH_FILE`) with its credentials, when it
    /// has some.
    pub auth_file: Option<PathBuf>,
    /// Its token server, when it wants bearer tokens.
    pub tokens: Option<token::TokenServer>,
}

impl TestRegistry {
    /// Plain HTTP, anyone may push and pull.
    pub fn plain() -> Self {
        Self::start(None)
    }

    /// HTTPS (a certificate for 127.0.0.1 from a CA made here) and basic
    /// auth: `user` with `password` may push and pull, nobody else.
    pub fn tls_with_basic_auth(user: &str, password: &str) -> Self {
        Self::start(Some((user, password)))
    }

    /// Plain HTTP, and bearer tokens: the registry answers 401 with a
    /// `Bearer realm=…` challenge, a token server on loopback gives `user`
    /// (with `password`, basic auth) a token for the repositories asked.
    pub fn with_token_auth(user: &str, password: &str) -> Self {
        let root = tempfile::tempdir().unwrap();
        let tokens = token::TokenServer::start(root.path(), user, password);
        let host = format!("127.0.0.1:{}", free_port());
        let config = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n\
             http:\n  addr: {host}\nauth:\n  token:\n    realm: {}\n    service: {}\n    \
             issuer: {}\n    rootcertbundle: {}\n",
            root.path().join("data").display(),
            tokens.realm(),
            token::SERVICE,
            token::ISSUER,
            tokens.root_bundle().display(),
        );
        let auth_file = write_auth_file(root.path(), &host, user, password);
        Self::run(root, host, config, None, Some(auth_file), Some(tokens))
    }

    fn start(auth: Option<(&str, &str)>) -> Self {
        let root = tempfile::tempdir().unwrap();
        let host = format!("127.0.0.1:{}", free_port());
        let mut config = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  \
             delete:\n    enabled: true\nhttp:\n  addr: {host}\n",
            root.path().join("data").display()
        );
        let (mut ca_file, mut auth_file) = (None, None);
        if let Some((user, password)) = auth {
            let (ca, cert, key) = certificates();
            let dir = root.path();
            std::fs::write(dir.join("ca.pem"), ca).unwrap();
            std::fs::write(dir.join("cert.pem"), cert).unwrap();
            std::fs::write(dir.join("key.pem"), key).unwrap();
            let htpasswd = Command::new("htpasswd")
                .args(["-Bbn", user, password])
                .output()
                .expect("htpasswd (apache2-utils: make deps)");
            assert!(htpasswd.status.success());
            std::fs::write(dir.join("htpasswd"), htpasswd.stdout).unwrap();
            config.push_str(&format!(
                "  tls:\n    certificate: {0}/cert.pem\n    key: {0}/key.pem\n\
                 auth:\n  htpasswd:\n    realm: geofn-test\n    path: {0}/htpasswd\n",
                dir.display()
            ));
            ca_file = Some(dir.join("ca.pem"));
            auth_file = Some(write_auth_file(dir, &host, user, password));
        }
        Self::run(root, host, config, ca_file, auth_file, None)
    }

    fn run(
        root: TempDir,
        host: String,
        config: String,
        ca_file: Option<PathBuf>,
        auth_file: Option<PathBuf>,
        tokens: Option<token::TokenServer>,
    ) -> Self {
        std::fs::write(root.path().join("config.yml"), config).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(root.path().join("config.yml"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker-registry (make deps installs it)");
        let registry = Self {
            child,
            host,
            root,
            ca_file,
            auth_file,
            tokens,
        };
        registry.wait_listening();
        registry
    }

    fn wait_listening(&self) {
        let started = Instant::now();
        while std::net::TcpStream::connect(&self.host).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "docker-registry did not listen on {}",
                self.host
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `oci://HOST/REPO_AND_TAG`.
    pub fn reference(&self, repo_and_tag: &str) -> String {
        format!("oci://{}/{repo_and_tag}", self.host)
    }

    /// Where the registry keeps the blob `digest` (`sha256:…`).
    pub fn blob_file(&self, digest: &str) -> PathBuf {
        let hex = digest.trim_start_matches("sha256:");
        self.root
            .path()
            .join("data/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    /// Its storage folder.
    pub fn storage(&self) -> &Path {
        self.root.path()
    }

    /// Uploads `bytes` as a blob of `repo` (plain registries only); its
    /// digest.
    pub fn push_blob(&self, repo: &str, bytes: &[u8]) -> String {
        let digest = digest(bytes);
        let started = ureq::post(&format!("http://{}/v2/{repo}/blobs/uploads/", self.host))
            .send_empty()
            .expect("starting an upload");
        assert_eq!(started.status(), 202);
        let location = started.headers()["location"].to_str().unwrap().to_owned();
        let location = if location.starts_with("http") {
            location
        } else {
            format!("http://{}{location}", self.host)
        };
        let separator = if location.contains('?') { '&' } else { '?' };
        let finished = ureq::put(&format!("{location}{separator}digest={digest}"))
            .header("content-type", "application/octet-stream")
            .send(bytes)
            .expect("finishing an upload");
        assert_eq!(finished.status(), 201);
        digest
    }

    /// Puts `manifest` (of `media_type`) as `repo:tag`; its digest.
    pub fn push_manifest(
        &self,
        repo: &str,
        tag: &str,
        media_type: &str,
        manifest: &[u8],
    ) -> String {
        let answer = ureq::put(&format!("http://{}/v2/{repo}/manifests/{tag}", self.host))
            .header("content-type", media_type)
            .send(manifest)
            .expect("putting a manifest");
        assert_eq!(answer.status(), 201);
        digest(manifest)
    }

    /// The manifest `repo:reference` as the registry serves it, asking
    /// for an OCI image manifest.
    pub fn manifest(&self, repo: &str, reference: &str) -> Vec<u8> {
        self.get(&format!("/v2/{repo}/manifests/{reference}"))
    }

    /// The blob `digest` of `repo`.
    pub fn blob(&self, repo: &str, digest: &str) -> Vec<u8> {
        self.get(&format!("/v2/{repo}/blobs/{digest}"))
    }

    fn get(&self, path: &str) -> Vec<u8> {
        let mut answer = ureq::get(&format!("http://{}{path}", self.host))
            .header("accept", "application/vnd.oci.image.manifest.v1+json")
            .call()
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        answer.body_mut().read_to_vec().unwrap()
    }
}

/// An auth file as `podman login` writes it, for `user` at `host`.
fn write_auth_file(dir: &Path, host: &str, user: &str, password: &str) -> PathBuf {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    let file = dir.join("auth.json");
    std::fs::write(
        &file,
        format!(r#"{{"auths":{{"{host}":{{"auth":"{token}"}}}}}}"#),
    )
    .unwrap();
    file
}

/// `sha256:` and the hex SHA-256 of `bytes`.
pub fn digest(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

/// A port nothing listens on right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A certificate authority of the test's own: its certificate (PEM) and
/// the issuer that signs with its key.
pub(crate) fn test_ca(common_name: &str) -> (String, rcgen::Issuer<'static, rcgen::KeyPair>) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, common_name);
    let pem = params.self_signed(&key).unwrap().pem();
    (pem, rcgen::Issuer::new(params, key))
}

/// A CA, and a certificate for 127.0.0.1 it signed with its key.
fn certificates() -> (String, String, String) {
    let (ca, issuer) = test_ca("geofn registry test CA");
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    (ca, cert.pem(), key.serialize_pem())
}
