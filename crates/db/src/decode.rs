//! Result columns to WIT values, owned (`query`) or packed into one buffer
//! (`query-packed`); [`crate::json_rows`] renders the same cells as JSON.
//!
//! Types without a faithful WIT mapping (numeric, uuid, arrays, ...) are
//! reported as `unsupported-type` naming the column, so the handler author
//! casts in SQL rather than getting silently mangled data.

use std::error::Error as StdError;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio_postgres::Row;
use tokio_postgres::types::{FromSql, Type};

use geofn_contract::packed::Cell;

use crate::geometry::is_geometry_type;
use crate::value::{DbError, Value};

/// One cell: borrowed from the row where it can be, or a timestamp
/// formatted here. Both encodings (owned values and packed rows) are made
/// from it, so they cannot disagree about a type.
#[derive(Debug, PartialEq)]
pub(super) enum Decoded<'a> {
    Cell(Cell<'a>),
    Timestamp(String),
}

/// Every cell of `row`, in column order, as owned WIT values.
pub fn row_values(row: &Row) -> Result<Vec<Value>, DbError> {
    (0..row.len())
        .map(|idx| cell(row, idx).map(Decoded::into_value))
        .collect()
}

/// Appends every cell of `row` to `out` in the `packed-rows` layout
/// (`geofn_contract::packed`).
pub fn pack_row(row: &Row, out: &mut Vec<u8>) -> Result<(), DbError> {
    for idx in 0..row.len() {
        match cell(row, idx)? {
            Decoded::Cell(cell) => cell.write(out),
            Decoded::Timestamp(t) => Cell::Timestamp(&t).write(out),
        }
    }
    Ok(())
}

impl Decoded<'_> {
    fn into_value(self) -> Value {
        match self {
            Decoded::Cell(cell) => match cell {
                Cell::Null => Value::Null,
                Cell::Boolean(b) => Value::Boolean(b),
                Cell::Int(i) => Value::Int(i),
                Cell::Float(f) => Value::Float(f),
                Cell::Text(s) => Value::Text(s.to_owned()),
                Cell::Bytes(b) => Value::Bytes(b.to_vec()),
                Cell::Json(s) => Value::Json(s.to_owned()),
                Cell::Geometry(g) => Value::Geometry(g.to_vec()),
                Cell::Timestamp(t) => Value::Timestamp(t.to_owned()),
            },
            Decoded::Timestamp(t) => Value::Timestamp(t),
        }
    }
}

/// Cell `idx` of `row`, or why its type has no `db.value`.
pub(super) fn cell(row: &Row, idx: usize) -> Result<Decoded<'_>, DbError> {
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
        Type::TIMESTAMPTZ => {
            return row
                .try_get::<_, Option<OffsetDateTime>>(idx)
                .map(|v| match v {
                    Some(v) => Decoded::Timestamp(v.format(&Rfc3339).unwrap_or_default()),
                    None => Decoded::Cell(Cell::Null),
                })
                .map_err(|err| undecodable(column, &err));
        }
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
    decoded
        .map(Decoded::Cell)
        .map_err(|err| undecodable(column, &err))
}

fn undecodable(column: &tokio_postgres::Column, err: &tokio_postgres::Error) -> DbError {
    DbError::UnsupportedType(format!(
        "column {:?} ({}) could not be decoded: {err}",
        column.name(),
        column.type_().name()
    ))
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
    use super::{Cell, Decoded};

    #[test]
    fn timestamps_and_borrowed_cells_become_the_same_values() {
        let owned = Decoded::Timestamp("t".into()).into_value();
        let borrowed = Decoded::Cell(Cell::Timestamp("t")).into_value();
        assert_eq!(format!("{owned:?}"), format!("{borrowed:?}"));
        assert!(matches!(
            Decoded::Cell(Cell::Text("hé")).into_value(),
            crate::value::Value::Text(s) if s == "hé"
        ));
    }
}
