//! The registry client against a real registry (CNCF Distribution on
//! loopback): what `publish` writes, what `pull` accepts, and everything a
//! registry can do wrong refused before a byte of it is used.

use geofn_oci::layout::{CONFIG, MANIFEST, WASM};
use geofn_oci::{OciError, OciRef, Registry, RegistrySettings};
use geofn_test_registry::{TestRegistry, digest};
use serde_json::{Value, json};

/// A real component with an import and an export, `tag` making it unique.
fn component(tag: &str) -> Vec<u8> {
    wat::parse_str(format!(
        r#"(component
             (import "geofn:handler/log@0.1.5" (instance))
             (core module $m (func (export "f")) (data "{tag}"))
             (core instance $i (instantiate $m))
             (func $f (canon lift (core func $i "f")))
             (export "handle" (func $f)))"#
    ))
    .unwrap()
}

fn client(registry: &TestRegistry, blobs: Option<&std::path::Path>, max_bytes: u64) -> Registry {
    Registry::new(&RegistrySettings {
        insecure: vec![registry.host.clone()],
        ca_file: None,
        blob_dir: blobs.map(ToOwned::to_owned),
        max_bytes,
    })
    .unwrap()
}

const MAX: u64 = 48 << 20;

#[tokio::test]
async fn publish_writes_the_cncf_wasm_layout_and_pull_reads_it_back() {
    let registry = TestRegistry::plain();
    let oci = client(&registry, None, MAX);
    let bytes = component("one");
    let tagged = OciRef::parse(&registry.reference("team/points:v1")).unwrap();
    let pinned = oci.publish(&tagged, &bytes).await.unwrap();

    let manifest = registry.manifest("team/points", "v1");
    assert_eq!(pinned.digest(), Some(digest(&manifest).as_str()));
    let parsed: Value = serde_json::from_slice(&manifest).unwrap();
    assert_eq!(parsed["schemaVersion"], 2);
    assert_eq!(parsed["mediaType"], MANIFEST);
    assert_eq!(parsed["config"]["mediaType"], CONFIG);
    assert_eq!(parsed["layers"].as_array().unwrap().len(), 1);
    assert_eq!(parsed["layers"][0]["mediaType"], WASM);
    assert_eq!(parsed["layers"][0]["digest"], digest(&bytes));
    assert_eq!(parsed["layers"][0]["size"], bytes.len());

    let config = registry.blob("team/points", parsed["config"]["digest"].as_str().unwrap());
    let config: Value = serde_json::from_slice(&config).unwrap();
    assert_eq!(config["architecture"], "wasm");
    assert_eq!(config["os"], "wasip2");
    assert_eq!(config["layerDigests"], json!([digest(&bytes)]));
    assert_eq!(
        config["component"]["imports"],
        json!(["geofn:handler/log@0.1.5"])
    );
    assert_eq!(config["component"]["exports"], json!(["handle"]));

    assert_eq!(oci.resolve(&tagged).await.unwrap(), pinned);
    let pulled = oci.pull(&pinned).await.unwrap();
    assert_eq!(&pulled.bytes[..], &bytes[..]);
    assert_eq!(format!("sha256:{}", pulled.sha256), digest(&bytes));
}

#[tokio::test]
async fn a_pinned_reference_keeps_its_bytes_when_the_tag_moves() {
    let registry = TestRegistry::plain();
    let oci = client(&registry, None, MAX);
    let tagged = OciRef::parse(&registry.reference("h:stable")).unwrap();
    let first = oci.publish(&tagged, &component("first")).await.unwrap();
    let second = oci.publish(&tagged, &component("second")).await.unwrap();
    assert_ne!(first, second);
    assert_eq!(oci.resolve(&tagged).await.unwrap(), second);
    let pulled = oci.pull(&first).await.unwrap();
    assert_eq!(&pulled.bytes[..], &component("first")[..]);
}

#[tokio::test]
async fn a_tampered_blob_is_refused_and_not_kept() {
    let registry = TestRegistry::plain();
    let blobs = tempfile::tempdir().unwrap();
    let publisher = client(&registry, None, MAX);
    let bytes = component("tamper");
    let pinned = publisher
        .publish(&OciRef::parse(&registry.reference("h:v1")).unwrap(), &bytes)
        .await
        .unwrap();
    // Same size, one byte changed: only the digest can tell.
    let file = registry.blob_file(&digest(&bytes));
    let mut stored = std::fs::read(&file).unwrap();
    let last = stored.len() - 1;
    stored[last] ^= 0xff;
    std::fs::write(&file, stored).unwrap();

    let puller = client(&registry, Some(blobs.path()), MAX);
    let err = puller.pull(&pinned).await.unwrap_err();
    assert!(matches!(err, OciError::DigestMismatch(_)), "{err}");
    assert_eq!(err.status(), 422);
    let kept: Vec<_> = std::fs::read_dir(blobs.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(
        !kept
            .iter()
            .any(|name| digest(&bytes).ends_with(name.to_str().unwrap())),
        "a tampered component was kept: {kept:?}"
    );
}

#[tokio::test]
async fn an_oversized_component_is_refused_before_it_is_read() {
    let registry = TestRegistry::plain();
    let bytes = component("large");
    let pinned = client(&registry, None, MAX)
        .publish(&OciRef::parse(&registry.reference("h:v1")).unwrap(), &bytes)
        .await
        .unwrap();
    // The declared size is over the limit: refused on the manifest alone.
    // (The blob is gone from storage, so reading it could not succeed.)
    std::fs::remove_file(registry.blob_file(&digest(&bytes))).unwrap();
    let small = client(&registry, None, 64);
    let err = small.pull(&pinned).await.unwrap_err();
    assert!(matches!(err, OciError::TooLarge { .. }), "{err}");
    assert_eq!(err.status(), 413);
}

#[tokio::test]
async fn a_size_that_lies_is_cut_off_at_the_declared_size() {
    let registry = TestRegistry::plain();
    let bytes = component("liar");
    let layer = registry.push_blob("h", &bytes);
    let config = br#"{"architecture":"wasm","os":"wasip2"}"#;
    let config_digest = registry.push_blob("h", config);
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "config": { "mediaType": CONFIG, "digest": config_digest, "size": config.len() },
        "layers": [{ "mediaType": WASM, "digest": layer, "size": 10 }],
    })
    .to_string();
    let pinned = registry.push_manifest("h", "v1", MANIFEST, manifest.as_bytes());
    let reference = OciRef::parse(&registry.reference(&format!("h@{pinned}"))).unwrap();
    let err = client(&registry, None, MAX)
        .pull(&reference)
        .await
        .unwrap_err();
    assert!(
        matches!(err, OciError::TooLarge { .. } | OciError::DigestMismatch(_)),
        "{err}"
    );
}

#[tokio::test]
async fn artifacts_outside_the_layout_are_refused() {
    let registry = TestRegistry::plain();
    let bytes = component("layout");
    let layer = registry.push_blob("h", &bytes);
    let other = registry.push_blob("h", &component("other"));
    let config = br#"{"architecture":"wasm","os":"wasip2"}"#;
    let config_digest = registry.push_blob("h", config);
    let descriptor = |media: &str, digest: &str, size: usize| json!({ "mediaType": media, "digest": digest, "size": size });
    let cases = [
        (
            "two-layers",
            json!({
                "schemaVersion": 2, "mediaType": MANIFEST,
                "config": descriptor(CONFIG, &config_digest, config.len()),
                "layers": [descriptor(WASM, &layer, bytes.len()), descriptor(WASM, &other, bytes.len())],
            }),
        ),
        (
            "image-config",
            json!({
                "schemaVersion": 2, "mediaType": MANIFEST,
                "config": descriptor("application/vnd.oci.image.config.v1+json", &config_digest, config.len()),
                "layers": [descriptor(WASM, &layer, bytes.len())],
            }),
        ),
        (
            "tar-layer",
            json!({
                "schemaVersion": 2, "mediaType": MANIFEST,
                "config": descriptor(CONFIG, &config_digest, config.len()),
                "layers": [descriptor("application/vnd.oci.image.layer.v1.tar+gzip", &layer, bytes.len())],
            }),
        ),
    ];
    let oci = client(&registry, None, MAX);
    for (tag, manifest) in cases {
        registry.push_manifest("h", tag, MANIFEST, manifest.to_string().as_bytes());
        let tagged = OciRef::parse(&registry.reference(&format!("h:{tag}"))).unwrap();
        let err = oci.resolve(&tagged).await.unwrap_err();
        assert!(matches!(err, OciError::Layout(_)), "{tag}: {err}");
        assert_eq!(err.status(), 422, "{tag}");
    }

    // An image index is no manifest of a component.
    let index = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [],
    })
    .to_string();
    registry.push_manifest(
        "h",
        "index",
        "application/vnd.oci.image.index.v1+json",
        index.as_bytes(),
    );
    let tagged = OciRef::parse(&registry.reference("h:index")).unwrap();
    let err = oci.resolve(&tagged).await.unwrap_err();
    assert!(err.status() >= 400 && err.status() < 500, "{err}");
}

#[tokio::test]
async fn a_pulled_component_outlives_its_registry() {
    let blobs = tempfile::tempdir().unwrap();
    let bytes = component("kept");
    let (pinned, host) = {
        let registry = TestRegistry::plain();
        let oci = client(&registry, Some(blobs.path()), MAX);
        let pinned = oci
            .publish(&OciRef::parse(&registry.reference("h:v1")).unwrap(), &bytes)
            .await
            .unwrap();
        let pulled = oci.pull(&pinned).await.unwrap();
        assert!(!pulled.cached);
        (pinned, registry.host.clone())
    };
    // The registry is gone; a new client (a restarted replica) over the
    // same folder still has the version.
    let restarted = Registry::new(&RegistrySettings {
        insecure: vec![host],
        ca_file: None,
        blob_dir: Some(blobs.path().to_owned()),
        max_bytes: MAX,
    })
    .unwrap();
    let pulled = restarted.pull(&pinned).await.unwrap();
    assert!(pulled.cached);
    assert_eq!(&pulled.bytes[..], &bytes[..]);

    // What it never pulled, it cannot have.
    let other = pinned.pinned(&digest(b"never pushed"));
    let err = restarted.pull(&other).await.unwrap_err();
    assert!(matches!(err, OciError::Unreachable(_)), "{err}");
    assert_eq!(err.status(), 502);
}

#[tokio::test]
async fn what_is_not_there_is_not_found() {
    let registry = TestRegistry::plain();
    let oci = client(&registry, None, MAX);
    let tagged = OciRef::parse(&registry.reference("nothing:v1")).unwrap();
    let err = oci.resolve(&tagged).await.unwrap_err();
    assert!(matches!(err, OciError::NotFound(_)), "{err}");
    assert_eq!(err.to_string(), format!("the registry has no {tagged}"));
}
