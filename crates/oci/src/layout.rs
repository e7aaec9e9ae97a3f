//! The CNCF Wasm OCI artifact layout (TAG Runtime's "Wasm OCI Artifact
//! layout", what `wkg oci push`, `spin registry push` and `wash push`
//! write): an image manifest whose config has the media type
//! `application/vnd.wasm.config.v0+json` and records the component's
//! imports and exports, and exactly one layer, `application/wasm`, the
//! component itself.

use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use wasmparser::{ComponentExternalKind, ComponentTypeRef};

use crate::error::OciError;

/// The OCI image manifest's media type.
pub const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// The config's media type in the Wasm layout.
pub const CONFIG: &str = "application/vnd.wasm.config.v0+json";
/// The one layer's media type: a component's bytes.
pub const WASM: &str = "application/wasm";

/// `sha256:` and the hex digest of `bytes`.
pub fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// The config blob for `component`: what the layout records of it.
pub fn config(component: &[u8], created: &str) -> Vec<u8> {
    let (imports, exports) = interface(component);
    json!({
        "created": created,
        "architecture": "wasm",
        "os": "wasip2",
        "layerDigests": [digest(component)],
        "component": {
            "exports": exports,
            "imports": imports,
        },
    })
    .to_string()
    .into_bytes()
}

/// The image manifest of a component whose config is `config`.
pub fn manifest(component: &[u8], config: &[u8], created: &str) -> Vec<u8> {
    json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "config": { "mediaType": CONFIG, "digest": digest(config), "size": config.len() },
        "layers": [{ "mediaType": WASM, "digest": digest(component), "size": component.len() }],
        "annotations": { "org.opencontainers.image.created": created },
    })
    .to_string()
    .into_bytes()
}

/// What a pulled manifest says of its one component layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    /// Its digest, the component's sha256.
    pub digest: String,
    /// Its declared size in bytes.
    pub size: u64,
}

#[derive(Deserialize)]
struct Descriptor {
    #[serde(rename = "mediaType")]
    media_type: String,
    digest: String,
    size: u64,
}

#[derive(Deserialize)]
struct Manifest {
    #[serde(rename = "mediaType", default)]
    media_type: Option<String>,
    config: Descriptor,
    layers: Vec<Descriptor>,
}

/// The component layer of a manifest, if it is a Wasm artifact of the
/// layout: an image manifest, the Wasm config, exactly one Wasm layer.
pub fn component_layer(manifest: &[u8]) -> Result<Layer, OciError> {
    let manifest: Manifest = serde_json::from_slice(manifest)
        .map_err(|e| OciError::Layout(format!("the manifest is not an OCI image manifest: {e}")))?;
    if manifest
        .media_type
        .as_deref()
        .is_some_and(|m| m != MANIFEST)
    {
        return Err(OciError::Layout(format!(
            "manifest media type {:?}, not {MANIFEST}",
            manifest.media_type.unwrap_or_default()
        )));
    }
    if manifest.config.media_type != CONFIG {
        return Err(OciError::Layout(format!(
            "config media type {:?}, not {CONFIG}",
            manifest.config.media_type
        )));
    }
    let [layer] = &manifest.layers[..] else {
        return Err(OciError::Layout(format!(
            "{} layers; a component artifact has exactly one",
            manifest.layers.len()
        )));
    };
    if layer.media_type != WASM {
        return Err(OciError::Layout(format!(
            "layer media type {:?}, not {WASM}",
            layer.media_type
        )));
    }
    if !crate::reference::is_sha256(&layer.digest)
        || !crate::reference::is_sha256(&manifest.config.digest)
    {
        return Err(OciError::Layout("digests must be sha256".into()));
    }
    Ok(Layer {
        digest: layer.digest.clone(),
        size: layer.size,
    })
}

/// The interfaces and functions a component imports and exports at its
/// top level (the types a world shares are not listed, as the layout's
/// other writers do not list them).
fn interface(component: &[u8]) -> (Vec<Value>, Vec<Value>) {
    let (mut imports, mut exports) = (Vec::new(), Vec::new());
    let mut depth = 0usize;
    for payload in wasmparser::Parser::new(0).parse_all(component) {
        let Ok(payload) = payload else { break };
        match payload {
            wasmparser::Payload::ModuleSection { .. }
            | wasmparser::Payload::ComponentSection { .. } => depth += 1,
            wasmparser::Payload::End(_) => depth = depth.saturating_sub(1),
            wasmparser::Payload::ComponentImportSection(reader) if depth == 0 => {
                imports.extend(
                    reader
                        .into_iter()
                        .flatten()
                        .filter(|i| !matches!(i.ty, ComponentTypeRef::Type(_)))
                        .map(|i| json!(i.name.name)),
                );
            }
            wasmparser::Payload::ComponentExportSection(reader) if depth == 0 => {
                exports.extend(
                    reader
                        .into_iter()
                        .flatten()
                        .filter(|e| !matches!(e.kind, ComponentExternalKind::Type))
                        .map(|e| json!(e.name.name)),
                );
            }
            _ => {}
        }
    }
    (imports, exports)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_of_the_layout_has_one_wasm_layer() {
        let component = b"\0asm\x0d\0\x01\0";
        let config = config(component, "2026-12-03T00:00:00Z");
        let manifest = manifest(component, &config, "2026-12-03T00:00:00Z");
        let layer = component_layer(&manifest).unwrap();
        assert_eq!(layer.digest, digest(component));
        assert_eq!(layer.size, component.len() as u64);
        let config: Value = serde_json::from_slice(&config).unwrap();
        assert_eq!(config["layerDigests"][0], digest(component));

        let mut two: Value = serde_json::from_slice(&manifest).unwrap();
        let first = two["layers"][0].clone();
        two["layers"].as_array_mut().unwrap().push(first);
        let err = component_layer(two.to_string().as_bytes()).unwrap_err();
        assert!(err.to_string().contains("2 layers"), "{err}");
        let mut image: Value = serde_json::from_slice(&manifest).unwrap();
        image["config"]["mediaType"] = json!("application/vnd.oci.image.config.v1+json");
        assert!(component_layer(image.to_string().as_bytes()).is_err());
    }
}
