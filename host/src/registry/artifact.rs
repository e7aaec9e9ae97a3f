//! What a component says about itself: a handler's name, routes, limits,
//! database access and schema migrations travel inside its `.wasm`, as a
//! custom section named `geofn-handler` holding TOML (the guest SDK's
//! `handler_manifest!` embeds it). So a file in the handlers directory, a
//! ConfigMap and `geofn push` all carry code and schema as one artifact.
//!
//! ```toml
//! name = "regions"
//! routes = ["POST /regions", "GET /regions/{id}"]
//!
//! [limits]                # optional, as in geofn.toml
//! memory_mib = 32
//!
//! [database]              # optional: other handlers' schemas or tables
//! read = ["points"]
//!
//! [[migrations]]          # forward only, applied in order, each once
//! id = "0001-regions"
//! sql = "CREATE TABLE regions (...)"
//! ```

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::load::hex;
use super::manifest::{DatabaseAccess, parse_route, valid_name};
use crate::runtime::limits::LimitOverrides;

/// Name of the custom section holding the manifest.
pub const SECTION: &str = "geofn-handler";
/// Longest migration id: ids are recorded and shown, not essays.
const MAX_MIGRATION_ID: usize = 128;

/// The manifest a component carries.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Embedded {
    /// The handler's name, when the artifact names itself.
    pub name: Option<String>,
    /// Its routes, "METHOD /path".
    #[serde(default)]
    pub routes: Vec<String>,
    /// Limits, as in `geofn.toml`.
    #[serde(default)]
    pub limits: LimitOverrides,
    /// Other handlers' schemas or tables it uses.
    #[serde(default)]
    pub database: DatabaseAccess,
    /// Its schema, step by step.
    #[serde(default)]
    pub migrations: Vec<Migration>,
}

/// One forward-only schema step of a handler.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Migration {
    /// Unique within the handler, recorded once applied.
    pub id: String,
    /// The SQL, run as the handler's role in one transaction.
    pub sql: String,
}

impl Migration {
    /// Hex SHA-256 of the SQL: an applied migration whose text changed is
    /// refused, never run again.
    pub fn checksum(&self) -> String {
        hex(&Sha256::digest(self.sql.as_bytes()))
    }
}

/// Why a component's manifest was refused.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    /// The section is not UTF-8 TOML of the right shape.
    #[error("its {SECTION} section does not parse: {0}")]
    Syntax(String),
    /// A field holds something the host cannot use.
    #[error("its {SECTION} section is invalid: {0}")]
    Invalid(String),
}

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
    let Some(data) = found else {
        return Ok(None);
    };
    let text = std::str::from_utf8(data).map_err(|e| ArtifactError::Syntax(e.to_string()))?;
    let manifest: Embedded =
        toml::from_str(text).map_err(|e| ArtifactError::Syntax(e.to_string()))?;
    manifest.check()?;
    Ok(Some(manifest))
}

impl Embedded {
    fn check(&self) -> Result<(), ArtifactError> {
        let invalid = |why: String| Err(ArtifactError::Invalid(why));
        if let Some(name) = &self.name
            && !valid_name(name)
        {
            return invalid(format!("name {name:?} is not a valid handler name"));
        }
        if let Some(route) = self.routes.iter().find(|r| parse_route(r).is_none()) {
            return invalid(format!("route {route:?} is not \"METHOD /path\""));
        }
        if let Some(table) = self.database.invalid_table() {
            return invalid(format!(
                "database name {table:?} is not `name` or `schema.table`"
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for migration in &self.migrations {
            let id = &migration.id;
            if id.is_empty() || id.len() > MAX_MIGRATION_ID || id.chars().any(char::is_control) {
                return invalid(format!(
                    "migration id {id:?} must be 1-128 printable characters"
                ));
            }
            if !seen.insert(id) {
                return invalid(format!("migration id {id:?} appears twice"));
            }
            if migration.sql.trim().is_empty() {
                return invalid(format!("migration {id:?} has no SQL"));
            }
        }
        Ok(())
    }
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
        assert_eq!(manifest.migrations[0].checksum().len(), 64);
        assert!(embedded(&with_section("other", b"x")).unwrap().is_none());
    }

    #[test]
    fn bad_manifests_are_refused_with_a_reason() {
        for (text, why) in [
            ("name = \"Bad Name\"", "valid handler name"),
            ("routes = [\"/x\"]", "METHOD /path"),
            ("[[migrations]]\nid = \"a\"\nsql = \"\"", "no SQL"),
            (
                "[[migrations]]\nid = \"a\"\nsql = \"x\"\n[[migrations]]\nid = \"a\"\nsql = \"y\"",
                "twice",
            ),
            ("unknown = 1", "unknown field"),
        ] {
            let err = embedded(&with_section(SECTION, text.as_bytes()))
                .unwrap_err()
                .to_string();
            assert!(err.contains(why), "{text}: {err}");
        }
    }
}
