//! CQL2 filters (OGC API – Features Part 3) over a table's declared
//! queryables, as a SQL condition with every literal bound as a parameter.
//!
//! The `cql2` crate parses both encodings; the SQL is written here from an
//! allow-list: the properties a handler declares (each a column of its
//! own), the operators and functions below, and literals that only ever
//! reach PostgreSQL as parameters. Anything else — an unknown property or
//! function, a type mismatch, a syntax error — is a 400 naming `filter`
//! before a statement runs.
//!
//! Supported (the conformance classes a handler may list): Basic CQL2
//! (comparisons, `AND`/`OR`/`NOT`, `IS NULL`), property-property
//! comparisons, advanced comparison operators (`LIKE`, `BETWEEN`, `IN`),
//! case-insensitive comparison (`CASEI`), basic and all spatial functions
//! (`S_INTERSECTS`, `S_EQUALS`, `S_DISJOINT`, `S_TOUCHES`, `S_WITHIN`,
//! `S_OVERLAPS`, `S_CROSSES`, `S_CONTAINS` over WKT/GeoJSON literals and
//! `BBOX`), temporal functions (`T_*` over instants and intervals), and
//! the cql2-text and cql2-json encodings.
//!
//! ```ignore
//! const QUERYABLES: &[Queryable] = &[
//!     Queryable::new("name", "name", Type::String, "Name"),
//!     Queryable::new("geometry", "geom", Type::Geometry, "Location"),
//! ];
//! let filter = Filter::from_query(ctx.query_pairs(), QUERYABLES)?;
//! let mut params = Vec::new();
//! let condition = filter.map(|f| f.sql(&mut params));
//! ```

mod literals;
mod queryable;
mod schema;
mod sql;
#[cfg(test)]
mod tests;

pub use queryable::{Queryable, Type};
pub use schema::{MEDIA_TYPE as QUERYABLES_MEDIA_TYPE, queryables_schema};

use crate::crs::Crs;
use crate::http::Problem;
use crate::wit::db::Value;

/// Conformance classes of what this module implements, for `/conformance`
/// (Part 3's filter classes and CQL2's).
pub const CONFORMANCE: &[&str] = &[
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/case-insensitive-comparison",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/temporal-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/property-property",
];

/// The query parameters a filtered listing takes besides the queryables.
pub const PARAMETERS: &[&str] = &["filter", "filter-lang", "filter-crs"];

/// The relation of Part 3 linking a collection to its queryables.
pub const QUERYABLES_REL: &str = "http://www.opengis.net/def/rel/ogc/1.0/queryables";

/// Longest filter accepted, in bytes: far above any client's, far below
/// what could cost the parser.
pub const MAX_FILTER_BYTES: usize = 16 * 1024;
/// Deepest nesting of parentheses, brackets and braces accepted.
pub const MAX_DEPTH: usize = 32;

/// `filter-lang`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Text,
    Json,
}

/// A parsed filter, ready to become SQL.
#[derive(Debug, Clone)]
pub struct Filter {
    expr: cql2::Expr,
    crs: Crs,
    queryables: &'static [Queryable],
}

/// A filter's SQL condition and its parameters, numbered from `$1`.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub sql: String,
    pub params: Vec<Value>,
}

impl Filter {
    /// Parses `filter` in `lang`, its geometry literals in `crs`.
    pub fn parse(
        raw: &str,
        lang: Lang,
        crs: Crs,
        queryables: &'static [Queryable],
    ) -> Result<Filter, Problem> {
        if raw.len() > MAX_FILTER_BYTES {
            return Err(bad(format!(
                "filter is {} bytes; at most {MAX_FILTER_BYTES} are accepted",
                raw.len()
            )));
        }
        if nesting(raw) > MAX_DEPTH {
            return Err(bad(format!("filter nests deeper than {MAX_DEPTH} levels")));
        }
        let expr =
            match lang {
                Lang::Text => cql2::parse_text(raw)
                    .map_err(|e| bad(format!("filter is not CQL2 text: {e}")))?,
                Lang::Json => cql2::parse_json(raw)
                    .map_err(|e| bad(format!("filter is not CQL2 JSON: {e}")))?,
            };
        let filter = Filter {
            expr,
            crs,
            queryables,
        };
        // Checked now, so a bad filter is refused before any statement runs.
        filter.compile()?;
        Ok(filter)
    }

    /// The filter of a listing's query: `filter` with `filter-lang` and
    /// `filter-crs`, ANDed with every queryable given as a parameter of its
    /// own (`name=Paris`); `None` when there is neither.
    pub fn from_query(
        pairs: &[(String, String)],
        queryables: &'static [Queryable],
    ) -> Result<Option<Filter>, Problem> {
        let one = |name: &str| -> Result<Option<&str>, Problem> {
            let mut values = pairs
                .iter()
                .filter(|(k, _)| k == name)
                .map(|(_, v)| v.as_str());
            let first = values.next();
            if values.next().is_some() {
                return Err(Problem::bad_parameter(
                    name,
                    format!("{name} must be given at most once"),
                ));
            }
            Ok(first)
        };
        let lang = match one("filter-lang")? {
            None | Some("cql2-text") => Lang::Text,
            Some("cql2-json") => Lang::Json,
            Some(other) => {
                return Err(Problem::bad_parameter(
                    "filter-lang",
                    format!("filter-lang is cql2-text or cql2-json, got {other:?}"),
                ));
            }
        };
        let crs = Crs::from_param("filter-crs", one("filter-crs")?)?;
        let mut parts = Vec::new();
        // Blank, as a form leaves it: no filter (the parameter's schema, a
        // string, calls it valid).
        if let Some(raw) = one("filter")?.filter(|raw| !raw.trim().is_empty()) {
            parts.push(Filter::parse(raw, lang, crs, queryables)?.expr);
        }
        for queryable in queryables.iter().filter(|q| q.kind != Type::Geometry) {
            if let Some(raw) = one(queryable.name)? {
                parts.push(literals::equals_parameter(queryable, raw)?);
            }
        }
        let expr = match parts.len() {
            0 => return Ok(None),
            1 => parts.remove(0),
            _ => cql2::Expr::Operation {
                op: "and".into(),
                args: parts.into_iter().map(Box::new).collect(),
            },
        };
        let filter = Filter {
            expr,
            crs,
            queryables,
        };
        filter.compile()?;
        Ok(Some(filter))
    }

    /// The SQL condition, its parameters numbered from `$1`.
    pub fn compile(&self) -> Result<Compiled, Problem> {
        let mut params = Vec::new();
        let sql =
            sql::Writer::new(self.queryables, self.crs, &mut params).condition(&self.expr, 0)?;
        Ok(Compiled { sql, params })
    }
}

/// A 400 naming `filter`.
pub(crate) fn bad(detail: impl Into<String>) -> Problem {
    Problem::bad_parameter("filter", detail)
}

/// How deep brackets of any kind nest, outside quoted strings.
fn nesting(raw: &str) -> usize {
    let (mut depth, mut deepest, mut quote) = (0usize, 0usize, None);
    for c in raw.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '(' | '[' | '{') => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            (None, ')' | ']' | '}') => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}
