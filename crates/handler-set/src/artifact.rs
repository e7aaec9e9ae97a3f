//! Finding the manifest a component carries (`geofn_contract::embedded`)
//! inside its `.wasm`: a custom section of its own or of any module nested
//! in it. So a file in the handlers directory, a ConfigMap and `geofn push`
//! all carry code and schema as one artifact.

use geofn_contract::embedded::{ArtifactError, Embedded, SECTION};

/// The manifest embedded in `component`, if it has one. Bytes that are not
/// a wasm binary have none: compiling them says what is wrong with them.
pub fn embedded(component: &[u8]) -> Result<Option<Embedded>, ArtifactError> {
    let mut found = None;
    for payload in wasmparser::Parser::new(0).parse_all(component) {
        let Ok(payload) = payload else {
            return Ok(None);
        };
        if let wasmparser::Payload::CustomSection(section) = payload
            && section.name() == SECTION
        {
            if found.is_some() {
                return Err(ArtifactError::Invalid(format!(
                    "more than one {SECTION} section"
                )));
            }
            found = Some(section.data());
        }
    }
    found.map(Embedded::parse).transpose()
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
    fn a_bad_manifest_is_refused_with_its_reason() {
        let err = embedded(&with_section(SECTION, b"unknown = 1"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field"), "{err}");
    }
}
