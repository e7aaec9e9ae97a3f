//! Registries that want credentials, through the `geofn` command line and
//! replicas: TLS with a CA of the test's and basic auth from the auth file
//! podman and docker write, and a registry behind a token server; no
//! credential in a log or the metrics.

mod support;

use std::path::Path;

use geofn_test_registry::TestRegistry;
use support::oci::{geofn, probe_dir, push_probe, serve_command, succeeded, wait_for_version};
use support::{Host, PROBE_ENTRY, TestDb, handlers_dir, test_handler};

#[tokio::test(flavor = "multi_thread")]
async fn a_registry_with_tls_and_basic_auth() {
    const PASSWORD: &str = "s3cret-registry-password";
    let registry = TestRegistry::tls_with_basic_auth("ci", PASSWORD);
    let ca = registry.ca_file.clone().unwrap();
    let auth = registry.auth_file.clone().unwrap();
    let v2 = test_handler("probe-v2");
    let reference = registry.reference("probe:v2");

    // Without credentials the registry says no; without the CA, TLS does.
    let output = geofn(
        &["publish", v2.to_str().unwrap(), &reference],
        &[("GEOFN_OCI_CA_FILE", &ca)],
    );
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("refused access"),
        "{output:?}"
    );
    let output = geofn(
        &["publish", v2.to_str().unwrap(), &reference],
        &[("REGISTRY_AUTH_FILE", &auth)],
    );
    assert!(!output.status.success(), "{output:?}");
    // With both, in the auth file podman and docker write.
    let output = geofn(
        &["publish", v2.to_str().unwrap(), &reference],
        &[("GEOFN_OCI_CA_FILE", &ca), ("REGISTRY_AUTH_FILE", &auth)],
    );
    let pinned = succeeded(&output).trim().to_owned();

    // A handlers directory naming the artifact by digest, pulled at start.
    let db = TestDb::start();
    let dir = handlers_dir(&PROBE_ENTRY.replace("probe.wasm", &pinned), &[]);
    let cache = tempfile::tempdir().unwrap();
    let mut command = serve_command(&db, dir.path(), Some(cache.path()));
    command
        .env("GEOFN_OCI_CA_FILE", &ca)
        .env("REGISTRY_AUTH_FILE", &auth);
    let host = Host::spawn(command).await;
    assert_eq!(
        support::probe_version(&host.base).await.as_deref(),
        Some("v2")
    );

    // A push by tag through the same registry.
    let output = geofn(
        &[
            "publish",
            test_handler("probe-v1").to_str().unwrap(),
            &registry.reference("probe:v1"),
        ],
        &[("GEOFN_OCI_CA_FILE", &ca), ("REGISTRY_AUTH_FILE", &auth)],
    );
    succeeded(&output);
    push_probe(&registry.reference("probe:v1"), &host.base);
    wait_for_version(&host.base, "v1").await;

    // No credential in the log or the metrics.
    let metrics = support::metrics::text(&host).await;
    for text in [host.logs(), metrics] {
        assert!(!text.contains(PASSWORD));
        assert!(!text.contains("Y2k6czNjcmV0")); // base64 of "ci:s3cret"
    }

    // A replica without the credentials cannot start on that directory,
    // and says why.
    let empty = tempfile::tempdir().unwrap();
    let mut command = serve_command(&db, dir.path(), Some(empty.path()));
    command.env("GEOFN_OCI_CA_FILE", &ca);
    let refused = Host::try_spawn(command)
        .await
        .err()
        .expect("it must not start");
    assert!(refused.contains("refused access"), "{refused}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_registry_that_wants_bearer_tokens() {
    const PASSWORD: &str = "token-server-password";
    let registry = TestRegistry::with_token_auth("ci", PASSWORD);
    let tokens = registry.tokens.as_ref().unwrap();
    let auth = registry.auth_file.clone().unwrap();
    let v2 = test_handler("probe-v2");
    let insecure = ["--oci-insecure-registries", registry.host.as_str()];
    let publish_args = |file: &Path, tag: &str| -> Vec<String> {
        let mut args = vec![
            "publish".to_owned(),
            file.to_str().unwrap().to_owned(),
            registry.reference(tag),
        ];
        args.extend(insecure.iter().map(|s| (*s).to_owned()));
        args
    };
    let run = |args: &[String], auth: Option<&Path>| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        match auth {
            Some(file) => geofn(&args, &[("REGISTRY_AUTH_FILE", file)]),
            None => geofn(&args, &[]),
        }
    };

    // Anonymous: the token server refuses, so does the registry.
    let output = run(&publish_args(&v2, "probe:v2"), None);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert_eq!(tokens.issued(), 0);
    // With the auth file: a token for the push, the digest printed.
    let output = run(&publish_args(&v2, "probe:v2"), Some(&auth));
    succeeded(&output);
    assert!(tokens.issued() > 0, "no token was asked for");

    let db = TestDb::start();
    let dir = probe_dir();
    let cache = tempfile::tempdir().unwrap();
    let mut command = serve_command(&db, dir.path(), Some(cache.path()));
    command.args(insecure).env("REGISTRY_AUTH_FILE", &auth);
    let host = Host::spawn(command).await;
    let before = tokens.issued();
    push_probe(&registry.reference("probe:v2"), &host.base);
    wait_for_version(&host.base, "v2").await;
    assert!(
        tokens.issued() > before,
        "the replica pulled without a token"
    );
    assert!(!host.logs().contains(PASSWORD));
}
