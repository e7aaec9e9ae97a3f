//! Query results read by column name, into Rust types.
//!
//! ```ignore
//! let rows = geofn_guest::sql::query("SELECT id, name FROM regions WHERE id = $1", &[id.into()])?;
//! for row in rows.iter() {
//!     let id: i64 = row.get("id")?;
//!     let name: Option<String> = row.get("name")?;
//! }
//! ```

use crate::error::{Error, Result};
use crate::geometry::point_xy;
use crate::wit::db::{self, Value};

/// The rows of one statement.
#[derive(Debug, Clone)]
pub struct Rows(db::Rows);

impl From<db::Rows> for Rows {
    fn from(rows: db::Rows) -> Self {
        Self(rows)
    }
}

impl Rows {
    /// Column names, in select-list order.
    pub fn columns(&self) -> &[String] {
        &self.0.columns
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.0.rows.len()
    }

    /// Whether there is no row.
    pub fn is_empty(&self) -> bool {
        self.0.rows.is_empty()
    }

    /// The rows, in order.
    pub fn iter(&self) -> impl Iterator<Item = Row<'_>> {
        self.0.rows.iter().map(|values| Row {
            columns: &self.0.columns,
            values,
        })
    }

    /// The first row, if any.
    pub fn first(&self) -> Option<Row<'_>> {
        self.iter().next()
    }
}

/// One row.
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    columns: &'a [String],
    values: &'a [Value],
}

impl Row<'_> {
    /// The cell of `column` as a `T`: an error naming the column when there
    /// is none or it holds something else.
    pub fn get<T: FromValue>(&self, column: &str) -> Result<T> {
        let index = self
            .columns
            .iter()
            .position(|c| c == column)
            .ok_or_else(|| internal(format!("no column {column:?} in the result")))?;
        T::from_value(&self.values[index]).ok_or_else(|| {
            internal(format!(
                "column {column:?} is not {}: {:?}",
                T::EXPECTED,
                self.values[index]
            ))
        })
    }
}

fn internal(detail: String) -> Error {
    crate::wit::log::log(crate::wit::log::Level::Error, &detail);
    Error::new(
        500,
        "internal",
        "Internal error",
        "a result had an unexpected shape",
    )
}

/// A Rust type a `db` value converts into.
pub trait FromValue: Sized {
    /// What the value must be, for error messages.
    const EXPECTED: &'static str;
    /// The value as `Self`, if it is one.
    fn from_value(value: &Value) -> Option<Self>;
}

impl FromValue for i64 {
    const EXPECTED: &'static str = "an integer";
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Int(n) => Some(*n),
            _ => None,
        }
    }
}

impl FromValue for f64 {
    const EXPECTED: &'static str = "a number";
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Float(f) => Some(*f),
            Value::Int(n) => Some(*n as f64),
            _ => None,
        }
    }
}

impl FromValue for bool {
    const EXPECTED: &'static str = "a boolean";
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Boolean(b) => Some(*b),
            _ => None,
        }
    }
}

impl FromValue for String {
    const EXPECTED: &'static str = "text";
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Text(s) | Value::Timestamp(s) | Value::Json(s) => Some(s.clone()),
            _ => None,
        }
    }
}

/// json and jsonb columns, parsed.
impl FromValue for serde_json::Value {
    const EXPECTED: &'static str = "JSON";
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Json(s) => serde_json::from_str(s).ok(),
            _ => None,
        }
    }
}

/// bytea columns, and geometries as EWKB.
impl FromValue for Vec<u8> {
    const EXPECTED: &'static str = "bytes";
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Bytes(b) | Value::Geometry(b) => Some(b.clone()),
            _ => None,
        }
    }
}

/// A point geometry's longitude and latitude (x, y).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// x: longitude.
    pub x: f64,
    /// y: latitude.
    pub y: f64,
}

impl FromValue for Point {
    const EXPECTED: &'static str = "a point";
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Geometry(g) => point_xy(g).map(|(x, y)| Point { x, y }),
            _ => None,
        }
    }
}

/// NULL as `None`.
impl<T: FromValue> FromValue for Option<T> {
    const EXPECTED: &'static str = T::EXPECTED;
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Null => Some(None),
            other => T::from_value(other).map(Some),
        }
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Value::Int(n)
    }
}

impl From<f64> for Value {
    fn from(f: f64) -> Self {
        Value::Float(f)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Text(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Text(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Boolean(b)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(value: Option<T>) -> Self {
        value.map_or(Value::Null, Into::into)
    }
}
