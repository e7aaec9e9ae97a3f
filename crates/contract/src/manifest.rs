//! `geofn.toml`: which component answers which routes, with what limits.
//!
//! ```toml
//! [handlers.points]
//! component = "points.wasm"
//! # The rest is optional: the component's own manifest (its routes,
//! # limits, database access and migrations, see [`crate::embedded`])
//! # applies, and what is written here overrides it.
//! routes = ["POST /point", "GET /points", "GET /points/{id}", "DELETE /points/{id}"]
//!
//! [handlers.points.limits]
//! deadline_ms = 10000
//! memory_mib = 64
//! db_connections = 8
//!
//! [handlers.points.database]   # other handlers' schemas, or schema.table
//! read = ["places"]
//!
//! [handlers.points.auth]       # routes that need a verified token
//! require = ["POST /point"]
//!
//! [handlers.points.variables]  # values of non-secret variables it declares
//! page_size = "100"
//!
//! [handlers.points.outbound]   # what it may call, instead of its own list
//! allowed_hosts = ["https://api.example.org"]
//!
//! [handlers.points.schedules.cleanup]  # a schedule's timing, or a new one
//! every = "1h"
//! ```
//!
//! Each handler's SQL runs as its own database role, which owns a schema
//! named after the handler and reaches nothing else unless `[database]`
//! grants it (the host's database layer sets that up).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use crate::access::DatabaseAccess;
use crate::auth::AuthPolicy;
use crate::limits::LimitOverrides;
use crate::names::valid_name;
use crate::outbound::OutboundPolicy;
use crate::route::{Route, parse_route};
use crate::schedules::Schedules;
use crate::variables::valid_variable_name;

/// File name of the manifest inside a handlers directory.
pub const MANIFEST_FILE: &str = "geofn.toml";

/// The parsed manifest.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Handlers by name.
    #[serde(default)]
    pub handlers: BTreeMap<String, HandlerSpec>,
}

/// One handler's entry.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HandlerSpec {
    /// Component file, relative to the handlers directory.
    pub component: PathBuf,
    /// Routes as "METHOD /path", path segments like `{id}` match one
    /// segment; when empty, the component's own.
    #[serde(default)]
    pub routes: Vec<String>,
    /// Limits overriding the component's and the host's defaults.
    #[serde(default)]
    pub limits: LimitOverrides,
    /// What its role may use beyond its own schema; when absent, what the
    /// component's own manifest says.
    #[serde(default)]
    pub database: Option<DatabaseAccess>,
    /// Which routes need a verified token; when absent, what the
    /// component's own manifest says.
    #[serde(default)]
    pub auth: Option<AuthPolicy>,
    /// Values of variables the component declares. Secrets are not set
    /// here: this file is not secret (the host refuses them).
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    /// What it may call; when absent, what the component's own manifest
    /// says. The operator's list replaces the component's.
    #[serde(default)]
    pub outbound: Option<OutboundPolicy>,
    /// Changes to its schedules' timing (or paths), or schedules of the
    /// operator's own (with a path).
    #[serde(default)]
    pub schedules: Schedules,
}

/// Why a manifest was refused.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// Not TOML, or not of the manifest's shape.
    #[error("{MANIFEST_FILE} does not parse: {0}")]
    Syntax(#[from] toml::de::Error),
    /// A route string that is not "METHOD /path".
    #[error("handler {handler:?}: route {route:?} is not \"METHOD /path\"")]
    BadRoute {
        /// Handler name.
        handler: String,
        /// The route as written.
        route: String,
    },
    /// A handler with no routes, in its manifest entry or its component,
    /// can never run; almost surely a mistake.
    #[error("handler {0:?} has no routes, neither in geofn.toml nor in its component")]
    NoRoutes(String),
    /// A handler name that could not be a file or metric label.
    #[error(
        "handler name {0:?} must be 1-63 characters of a-z, 0-9, - and _, and not name a \
         PostgreSQL schema of its own (public, information_schema, pg_*)"
    )]
    BadName(String),
    /// A `[database]` table name that is not `table` or `schema.table`.
    #[error("handler {handler:?}: database table {table:?} is not `table` or `schema.table`")]
    BadTable {
        /// Handler name.
        handler: String,
        /// The name as written.
        table: String,
    },
    /// A `[variables]` key that cannot name a variable.
    #[error(
        "handler {handler:?}: variable name {variable:?} must be a-z, 0-9 and _, starting \
         with a letter"
    )]
    BadVariable {
        /// Handler name.
        handler: String,
        /// The name as written.
        variable: String,
    },
    /// An `[outbound]` entry that cannot name an origin.
    #[error("handler {handler:?}: [outbound] {why}")]
    BadOutbound {
        /// Handler name.
        handler: String,
        /// What is wrong.
        why: String,
    },
    /// An `[auth]` entry that cannot be a route policy.
    #[error("handler {handler:?}: [auth] {why}")]
    BadAuth {
        /// Handler name.
        handler: String,
        /// What is wrong.
        why: String,
    },
}

impl Manifest {
    /// Parses and checks a manifest's text.
    pub fn parse(text: &str) -> Result<Self, ManifestError> {
        let manifest: Manifest = toml::from_str(text)?;
        for (name, spec) in &manifest.handlers {
            if !valid_name(name) {
                return Err(ManifestError::BadName(name.clone()));
            }
            spec.parsed_routes(name)?;
            if let Some(table) = spec
                .database
                .as_ref()
                .and_then(DatabaseAccess::invalid_table)
            {
                return Err(ManifestError::BadTable {
                    handler: name.clone(),
                    table: table.to_owned(),
                });
            }
            if let Some(why) = spec.auth.as_ref().and_then(AuthPolicy::invalid_entry) {
                return Err(ManifestError::BadAuth {
                    handler: name.clone(),
                    why,
                });
            }
            if let Some(why) = spec
                .outbound
                .as_ref()
                .and_then(OutboundPolicy::invalid_entry)
            {
                return Err(ManifestError::BadOutbound {
                    handler: name.clone(),
                    why,
                });
            }
            if let Some(variable) = spec.variables.keys().find(|v| !valid_variable_name(v)) {
                return Err(ManifestError::BadVariable {
                    handler: name.clone(),
                    variable: variable.clone(),
                });
            }
        }
        Ok(manifest)
    }
}

impl HandlerSpec {
    /// The routes, parsed.
    pub fn parsed_routes(&self, handler: &str) -> Result<Vec<Route>, ManifestError> {
        self.routes
            .iter()
            .map(|route| {
                parse_route(route).ok_or_else(|| ManifestError::BadRoute {
                    handler: handler.to_owned(),
                    route: route.clone(),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_shipped_shape() {
        let manifest = Manifest::parse(
            r#"
            [handlers.points]
            component = "points.wasm"
            routes = ["POST /point", "GET /points/{id}"]
            [handlers.points.limits]
            memory_mib = 32
            "#,
        )
        .unwrap();
        let spec = &manifest.handlers["points"];
        assert_eq!(spec.limits.memory_mib, Some(32));
        let routes = spec.parsed_routes("points").unwrap();
        assert_eq!(routes[1].method, "GET");
        assert_eq!(routes[1].path, "/points/{id}");
    }

    #[test]
    fn rejects_bad_routes_names_and_unknown_keys() {
        let bad_route = "[handlers.a]\ncomponent = \"a.wasm\"\nroutes = [\"/nomethod\"]";
        assert!(matches!(
            Manifest::parse(bad_route),
            Err(ManifestError::BadRoute { .. })
        ));
        let bad_name = "[handlers.\"A B\"]\ncomponent = \"a.wasm\"\nroutes = [\"GET /\"]";
        assert!(matches!(
            Manifest::parse(bad_name),
            Err(ManifestError::BadName(_))
        ));
        let unknown = "[handlers.a]\ncomponent = \"a.wasm\"\nroutes = [\"GET /\"]\ntimeout = 3";
        assert!(matches!(
            Manifest::parse(unknown),
            Err(ManifestError::Syntax(_))
        ));
        let schema_name = "[handlers.pg_x]\ncomponent = \"a.wasm\"\nroutes = [\"GET /\"]";
        assert!(matches!(
            Manifest::parse(schema_name),
            Err(ManifestError::BadName(_))
        ));
    }

    #[test]
    fn database_access_names_plain_tables() {
        let manifest = Manifest::parse(
            "[handlers.a]\ncomponent = \"a.wasm\"\nroutes = [\"GET /\"]\n\
             [handlers.a.database]\nread = [\"points\", \"other.places\", \"few-instances\"]",
        )
        .unwrap();
        assert_eq!(
            manifest.handlers["a"].database.as_ref().unwrap().read.len(),
            3
        );
        for bad in ["Points", "a.b.c", "x; drop", "\"q\"", "", "public", "a.B"] {
            let text = format!(
                "[handlers.a]\ncomponent = \"a.wasm\"\nroutes = [\"GET /\"]\n\
                 [handlers.a.database]\nwrite = [{bad:?}]"
            );
            assert!(
                matches!(Manifest::parse(&text), Err(ManifestError::BadTable { .. })),
                "{bad}"
            );
        }
    }
}
