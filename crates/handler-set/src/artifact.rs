//! Finding the manifest a component carries (`geofn_contract::embedded`)
//! inside its `.wasm`: a custom section of its own or of any module nested
//! in it, and beside it the handler's OpenAPI fragment
//! (`geofn_contract::openapi`). So a file in the handlers directory, a
//! ConfigMap and `geofn push` all carry code, schema and documentation as
//! one artifact.

use geofn_contract::embedded::{ArtifactError, Embedded, SECTION};
use geofn_contract::openapi::{self, Fragment};

/// The manifest embedded in `component`, if it has one (or only an OpenAPI
/// fragment: then the rest is default). Bytes that are not a wasm binary
/// have none: compiling them says what is wrong with them.
pub fn embedded(component: &[u8]) -> Result<Option<Embedded>, ArtifactError> {
    let mut manifest = None;
    let mut fragment = None;
    for payload in wasmparser::Parser::new(0).parse_all(component) {
        let Ok(payload) = payload else {
            return Ok(None);
        };
        let wasmparser::Payload::CustomSection(section) = payload else {
            continue;
        };
        let slot = match section.name() {
            SECTION => &mut manifest,
            openapi::SECTION => &mut fragment,
            _ => continue,
        };
        if slot.is_some() {
            return Err(ArtifactError::Invalid(format!(
                "more than one {} section",
                section.name()
            )));
        }
        *slot = Some(section.data());
    }
    let openapi = fragment
        .map(Fragment::parse)
        .transpose()
        .map_err(ArtifactError::OpenApi)?;
    let manifest = match (manifest, &openapi) {
        (Some(text), _) => Some(Embedded::parse(text)?),
        (None, Some(_)) => Some(Embedded::default()),
        (None, None) => None,
    };
    Ok(manifest.map(|manifest| Embedded {
        openapi,
        ..manifest
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A component-shaped binary with a core module holding `section`.
    fn with_section(name: &str, data: &[u8]) -> Vec<u8> {
        let module = wat::parse_str(format!(
            "(module (@custom \"{name}\" \"{}\"))",
            data.iter()
                .map(|b| format!("\\{b:02x}"))
                .collect::<String>()
        ))
        .unwrap();
        let mut component = b"\0asm\x0d\0\x01\0".to_vec();
        component.push(1); // core module section
        let mut len = Vec::new();
        leb128(module.len() as u64, &mut len);
        component.extend_from_slice(&len);
        component.extend_from_slice(&module);
        component
    }

    fn leb128(mut value: u64, out: &mut Vec<u8>) {
        loop {
            let byte = (value & 0x7f) as u8;
            value >>= 7;
            if value == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }

    #[test]
    fn the_manifest_is_found_inside_a_nested_module() {
        let text = "name = \"regions\"\nroutes = [\"GET /regions\"]\n\
                    [[migrations]]\nid = \"0001\"\nsql = \"CREATE TABLE regions (id int)\"\n";
        let manifest = embedded(&with_section(SECTION, text.as_bytes()))
            .unwrap()
            .unwrap();
        assert_eq!(manifest.name.as_deref(), Some("regions"));
        assert_eq!(manifest.migrations[0].id, "0001");
        assert!(embedded(&with_section("other", b"x")).unwrap().is_none());
    }

    #[test]
    fn the_openapi_fragment_travels_beside_the_manifest() {
        let mut component = with_section(SECTION, b"name = \"regions\"\nroutes = [\"GET /r\"]\n");
        component.extend(custom_section(
            openapi::SECTION,
            br#"{"paths":{"/r":{"get":{"summary":"R"}}}}"#,
        ));
        let manifest = embedded(&component).unwrap().unwrap();
        let fragment = manifest.openapi.unwrap();
        assert_eq!(fragment.operation("GET", "/r").unwrap()["summary"], "R");

        let mut broken = with_section(SECTION, b"name = \"regions\"\n");
        broken.extend(custom_section(openapi::SECTION, b"{\"paths\": 1}"));
        let err = embedded(&broken).unwrap_err().to_string();
        assert!(
            err.contains("geofn-openapi") && err.contains("paths"),
            "{err}"
        );
    }

    /// A custom section (id 0), valid at the end of a component.
    fn custom_section(name: &str, data: &[u8]) -> Vec<u8> {
        let mut body = Vec::new();
        leb128(name.len() as u64, &mut body);
        body.extend_from_slice(name.as_bytes());
        body.extend_from_slice(data);
        let mut section = vec![0];
        leb128(body.len() as u64, &mut section);
        section.extend(body);
        section
    }

    #[test]
    fn a_bad_manifest_is_refused_with_its_reason() {
        let err = embedded(&with_section(SECTION, b"unknown = 1"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field"), "{err}");
    }
}
