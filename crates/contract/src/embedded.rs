//! What a component says about itself: a handler's name, routes, limits,
//! database access and schema migrations travel inside its `.wasm`, as a
//! custom section named [`SECTION`] holding TOML (the guest SDK's
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
//! [auth]                  # optional: routes that need a verified token
//! require = ["POST /regions"]
//!
//! [variables]             # optional: settings and secrets it reads
//! token = { secret = true }
//!
//! [outbound]              # optional: origins it may call (none otherwise)
//! allowed_hosts = ["https://api.example.org"]
//!
//! [schedules.refresh]     # optional: timed POSTs only the host can send
//! every = "5m"
//! path = "/regions/_refresh"
//!
//! [[migrations]]          # forward only, applied in order, each once
//! id = "0001-regions"
//! sql = "CREATE TABLE regions (...)"
//! ```

use serde::Deserialize;

use crate::access::DatabaseAccess;
use crate::auth::AuthPolicy;
use crate::limits::LimitOverrides;
use crate::names::valid_name;
use crate::openapi::{self, Fragment};
use crate::outbound::OutboundPolicy;
use crate::route::parse_route;
use crate::schedules::Schedules;
use crate::variables::{Variables, invalid_declaration};

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
    /// Which of its routes need a verified token, with which scopes.
    #[serde(default)]
    pub auth: AuthPolicy,
    /// The variables and secrets it reads (`wasi:config/store`).
    #[serde(default)]
    pub variables: Variables,
    /// What it may call (`wasi:http/outgoing-handler`).
    #[serde(default)]
    pub outbound: OutboundPolicy,
    /// Its timed invocations.
    #[serde(default)]
    pub schedules: Schedules,
    /// Its schema, step by step.
    #[serde(default)]
    pub migrations: Vec<Migration>,
    /// Its part of the service's OpenAPI document: a section of its own
    /// ([`crate::openapi`]), JSON beside this TOML, never inside it.
    #[serde(skip)]
    pub openapi: Option<Fragment>,
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

/// Why a component's manifest was refused.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    /// The section is not UTF-8 TOML of the right shape.
    #[error("its {SECTION} section does not parse: {0}")]
    Syntax(String),
    /// A field holds something the host cannot use.
    #[error("its {SECTION} section is invalid: {0}")]
    Invalid(String),
    /// The OpenAPI fragment beside it is not one the host can use.
    #[error("its {section} section is invalid: {0}", section = openapi::SECTION)]
    OpenApi(String),
}

impl Embedded {
    /// Parses and checks the contents of a [`SECTION`] section.
    pub fn parse(section: &[u8]) -> Result<Self, ArtifactError> {
        let text =
            std::str::from_utf8(section).map_err(|e| ArtifactError::Syntax(e.to_string()))?;
        let manifest: Embedded =
            toml::from_str(text).map_err(|e| ArtifactError::Syntax(e.to_string()))?;
        manifest.check()?;
        Ok(manifest)
    }

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
        if let Some(why) = self.auth.invalid_entry() {
            return invalid(format!("[auth]: {why}"));
        }
        if let Some(why) = invalid_declaration(&self.variables) {
            return invalid(format!("[variables]: {why}"));
        }
        if let Some(why) = self.outbound.invalid_entry() {
            return invalid(format!("[outbound]: {why}"));
        }
        if let Some(why) = crate::schedules::invalid(&self.schedules) {
            return invalid(format!("[schedules]: {why}"));
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

    #[test]
    fn a_manifest_with_migrations_parses() {
        let text = "name = \"regions\"\nroutes = [\"GET /regions\"]\n\
                    [auth]\nrequire = [\"GET /regions\"]\n\
                    [[migrations]]\nid = \"0001\"\nsql = \"CREATE TABLE regions (id int)\"\n";
        let manifest = Embedded::parse(text.as_bytes()).unwrap();
        assert_eq!(manifest.name.as_deref(), Some("regions"));
        assert_eq!(manifest.migrations[0].id, "0001");
        assert_eq!(manifest.auth.require, ["GET /regions"]);
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
            ("[auth]\nrequire = [\"/x\"]", "[auth]"),
            (
                "[variables]\nkey = { secret = true, default = \"k\" }",
                "[variables]",
            ),
            (
                "[outbound]\nallowed_hosts = [\"example.org\"]",
                "[outbound]",
            ),
        ] {
            let err = Embedded::parse(text.as_bytes()).unwrap_err().to_string();
            assert!(err.contains(why), "{text}: {err}");
        }
        assert!(Embedded::parse(b"\xff").is_err());
    }
}
