//! The `geofn` command line and replicas against a test registry, with
//! none of the machine's registry credentials.

use std::path::Path;
use std::time::{Duration, Instant};

use tokio::process::Command;

use super::{PROBE_ENTRY, TestDb, handlers_dir, test_handler};

/// The admin token every replica and `geofn push` here use.
pub const TOKEN: &str = "oci-test-token";

/// Runs the `geofn` command line with `env`.
pub fn geofn(args: &[&str], env: &[(&str, &Path)]) -> std::process::Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_geofn"));
    command
        .args(args)
        .env("GEOFN_ADMIN_TOKEN", TOKEN)
        // Only the credentials a test gives: none of the machine's.
        .env("REGISTRY_AUTH_FILE", "/nonexistent")
        .env("DOCKER_CONFIG", "/nonexistent")
        .env_remove("XDG_RUNTIME_DIR");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().unwrap()
}

/// Its standard output, once it is known to have succeeded (its
/// standard error in the failure otherwise).
pub fn succeeded(output: &std::process::Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// `geofn push REFERENCE --name probe --url BASE` with no credentials of
/// its own: what it printed, once it has succeeded.
pub fn push_probe(reference: &str, base: &str) -> String {
    succeeded(&geofn(
        &["push", reference, "--name", "probe", "--url", base],
        &[],
    ))
}

/// Waits (10 s at most) until the probe at `base` says it is `wanted`.
pub async fn wait_for_version(base: &str, wanted: &str) {
    let started = Instant::now();
    while super::probe_version(base).await.as_deref() != Some(wanted) {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{base} never served {wanted}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// `geofn serve` on `db` with `handlers`, a cache of its own if given,
/// and nothing else: each test adds what it is about.
pub fn serve_command(db: &TestDb, handlers: &Path, cache: Option<&Path>) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_geofn"));
    command
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--admin-token",
            TOKEN,
            "--handlers",
        ])
        .arg(handlers)
        .env("DATABASE_URL", db.cluster.url())
        // Only the credentials a test gives: none of the machine's.
        .env("REGISTRY_AUTH_FILE", "/nonexistent")
        .env("DOCKER_CONFIG", "/nonexistent")
        .env_remove("XDG_RUNTIME_DIR");
    if let Some(cache) = cache {
        command.arg("--cache-dir").arg(cache);
    }
    command
}

/// A handlers directory with the probe (v1) alone.
pub fn probe_dir() -> tempfile::TempDir {
    handlers_dir(PROBE_ENTRY, &[("probe.wasm", test_handler("probe-v1"))])
}
