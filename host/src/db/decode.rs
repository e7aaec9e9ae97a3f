//! Result columns to WIT values, owned (`query`) or packed into one buffer
//! (`query-packed`).
//!
//! Types without a faithful WIT mapping (numeric, uuid, arrays, ...) are
//! reported as `unsupported-type` naming the column, so the handler author
//! casts in SQL rather than getting silently mangled data.

use std::error::Error as StdError;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio_postgres::Row;
use tokio_postgres::types::{FromSql, Type};

use super::geometry::is_geometry_type;
use crate::bindings::{DbError, Value};

/// One cell, borrowed from the row where it can be: what both encodings
/// are made from, so they cannot disagree about a type.
#[derive(Debug, PartialEq)]
enum Cell<'a> {
    Null,
    Boolean(bool),
    Int(i64),
    Float(f64),
    Text(&'a str),
    Bytes(&'a [u8]),
    Json(&'a str),
    /// PostGIS sends geometry and geography as EWKB: passed on as is.
    Geometry(&'a [u8]),
    Timestamp(String),
}

/// Every cell of `row`, in column order, as owned WIT values.
pub fn row_values(row: &Row) -> Result<Vec<Value>, DbError> {
    (0..row.len())
        .map(|idx| cell(row, idx).map(Cell::into_value))
        .collect()
}

/// Appends every cell of `row` to `out` in the `packed-rows` layout of the
/// WIT `db` interface.
pub fn pack_row(row: &Row, out: &mut Vec<u8>) -> Result<(), DbError> {
    for idx in 0..row.len() {
        cell(row, idx)?.pack(out);
    }
    Ok(())
}

impl Cell<'_> {
    fn into_value(self) -> Value {
        match self {
            Cell::Null => Value::Null,
            Cell::Boolean(b) => Value::Boolean(b),
            Cell::Int(i) => Value::Int(i),
            Cell::Float(f) => Value::Float(f),
            Cell::Text(s) => Value::Text(s.to_owned()),
            Cell::Bytes(b) => Value::Bytes(b.to_vec()),
            Cell::Json(s) => Value::Json(s.to_owned()),
            Cell::Geometry(g) => Value::Geometry(g.to_vec()),
            Cell::Timestamp(t) => Value::Timestamp(t),
        }
    }

    /// Tag byte (the `value` case's index) and payload.
    fn pack(&self, out: &mut Vec<u8>) {
        let mut bytes = |tag: u8, payload: &[u8]| {
            out.push(tag);
            // Cells come from one PostgreSQL field, which is below 1 GiB.
            let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(payload);
        };
        match self {
            Cell::Null => out.push(0),
            Cell::Boolean(b) => out.extend_from_slice(&[1, u8::from(*b)]),
            Cell::Int(i) => {
                out.push(2);
                out.extend_from_slice(&i.to_le_bytes());
            }
            Cell::Float(f) => {
                out.push(3);
                out.extend_from_slice(&f.to_le_bytes());
            }
            Cell::Text(s) => bytes(4, s.as_bytes()),
            Cell::Bytes(b) => bytes(5, b),
            Cell::Json(s) => bytes(6, s.as_bytes()),
            Cell::Geometry(g) => bytes(7, g),
            Cell::Timestamp(t) => bytes(8, t.as_bytes()),
        }
    }
}

fn cell(row: &Row, idx: usize) -> Result<Cell<'_>, DbError> {
    let column = &row.columns()[idx];
    let ty = column.type_();
    let decoded = match *ty {
        Type::BOOL => get(row, idx, Cell::Boolean),
        Type::INT2 => get(row, idx, |v: i16| Cell::Int(v.into())),
        Type::INT4 => get(row, idx, |v: i32| Cell::Int(v.into())),
        Type::INT8 => get(row, idx, Cell::Int),
        Type::OID => get(row, idx, |v: u32| Cell::Int(v.into())),
        Type::FLOAT4 => get(row, idx, |v: f32| Cell::Float(v.into())),
        Type::FLOAT8 => get(row, idx, Cell::Float),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
            get(row, idx, Cell::Text)
        }
        Type::BYTEA => get(row, idx, Cell::Bytes),
        Type::JSON | Type::JSONB => get(row, idx, |v: RawJson| Cell::Json(v.0)),
        Type::TIMESTAMPTZ => get(row, idx, |v: OffsetDateTime| {
            Cell::Timestamp(v.format(&Rfc3339).unwrap_or_default())
        }),
        _ if is_geometry_type(ty) => get(row, idx, |g: Ewkb| Cell::Geometry(g.0)),
        _ => {
            return Err(DbError::UnsupportedType(format!(
                "column {:?} has type {}, which has no db value; cast it in SQL \
                 (e.g. {}::text or {}::float8)",
                column.name(),
                ty.name(),
                column.name(),
                column.name()
            )));
        }
    };
    decoded.map_err(|err| {
        DbError::UnsupportedType(format!(
            "column {:?} ({}) could not be decoded: {err}",
            column.name(),
            ty.name()
        ))
    })
}

/// Reads a nullable cell of Rust type `T` and wraps it.
fn get<'a, T: FromSql<'a>>(
    row: &'a Row,
    idx: usize,
    wrap: impl FnOnce(T) -> Cell<'a>,
) -> Result<Cell<'a>, tokio_postgres::Error> {
    Ok(row.try_get::<_, Option<T>>(idx)?.map_or(Cell::Null, wrap))
}

/// json/jsonb text without a parse-and-reprint round trip.
struct RawJson<'a>(&'a str);

impl<'a> FromSql<'a> for RawJson<'a> {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn StdError + Sync + Send>> {
        let text = if *ty == Type::JSONB {
            match raw.split_first() {
                Some((1, rest)) => rest,
                _ => return Err("unknown jsonb binary version".into()),
            }
        } else {
            raw
        };
        Ok(RawJson(std::str::from_utf8(text)?))
    }

    fn accepts(ty: &Type) -> bool {
        matches!(*ty, Type::JSON | Type::JSONB)
    }
}

/// A geometry or geography column's binary form, which PostGIS already
/// sends as EWKB: decoding and re-encoding it would only cost time.
struct Ewkb<'a>(&'a [u8]);

impl<'a> FromSql<'a> for Ewkb<'a> {
    fn from_sql(_ty: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn StdError + Sync + Send>> {
        Ok(Ewkb(raw))
    }

    fn accepts(ty: &Type) -> bool {
        is_geometry_type(ty)
    }
}

#[cfg(test)]
mod tests {
    use super::Cell;

    fn packed(cell: Cell<'_>) -> Vec<u8> {
        let mut out = Vec::new();
        cell.pack(&mut out);
        out
    }

    #[test]
    fn packed_cells_follow_the_wit_layout() {
        assert_eq!(packed(Cell::Null), [0]);
        assert_eq!(packed(Cell::Boolean(true)), [1, 1]);
        assert_eq!(
            packed(Cell::Int(-2)),
            [2, 254, 255, 255, 255, 255, 255, 255, 255]
        );
        assert_eq!(packed(Cell::Float(1.0)), [3, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f]);
        assert_eq!(packed(Cell::Text("hé")), [4, 3, 0, 0, 0, b'h', 0xc3, 0xa9]);
        assert_eq!(packed(Cell::Geometry(&[1, 2])), [7, 2, 0, 0, 0, 1, 2]);
        assert_eq!(
            packed(Cell::Timestamp("t".to_owned())),
            [8, 1, 0, 0, 0, b't']
        );
    }
}
