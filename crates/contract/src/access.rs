//! What a handler's database role may reach beyond its own schema, as its
//! manifest declares it.

use serde::{Deserialize, Serialize};

use crate::names::valid_table;

/// What a handler's database role may use beyond its own schema: another
/// handler's schema (its name: every table in it, now and later) or one
/// table (`schema.table`). Anything not listed is out of reach: PostgreSQL
/// refuses it, whatever SQL the handler sends.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq, Hash)]
#[serde(deny_unknown_fields)]
pub struct DatabaseAccess {
    /// Schemas or tables it may `SELECT` from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub read: Vec<String>,
    /// Schemas or tables it may read, `INSERT` into, `UPDATE` and `DELETE`
    /// from (with the sequences they draw from).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub write: Vec<String>,
}

impl DatabaseAccess {
    /// Whether nothing beyond the handler's own schema is granted.
    pub fn is_empty(&self) -> bool {
        self.read.is_empty() && self.write.is_empty()
    }

    /// The first entry that is neither a handler name nor `schema.table`
    /// of lower-case letters, digits and underscores.
    pub fn invalid_table(&self) -> Option<&str> {
        self.read
            .iter()
            .chain(&self.write)
            .map(String::as_str)
            .find(|name| !valid_table(name))
    }
}
