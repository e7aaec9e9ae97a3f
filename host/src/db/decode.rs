//! Result columns to WIT values.
//!
//! Types without a faithful WIT mapping (numeric, uuid, arrays, ...) are
//! reported as `unsupported-type` naming the column, so the handler author
//! casts in SQL rather than getting silently mangled data.

use std::error::Error as StdError;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio_postgres::Row;
use tokio_postgres::types::{FromSql, Type};

use super::geometry::{Geometry, is_geometry_type};
use crate::bindings::{DbError, Value};

/// Every cell of `row`, in column order.
pub fn row_values(row: &Row) -> Result<Vec<Value>, DbError> {
    (0..row.len()).map(|idx| cell(row, idx)).collect()
}

fn cell(row: &Row, idx: usize) -> Result<Value, DbError> {
    let column = &row.columns()[idx];
    let ty = column.type_();
    let decoded = match *ty {
        Type::BOOL => get(row, idx, Value::Boolean),
        Type::INT2 => get(row, idx, |v: i16| Value::Int(v.into())),
        Type::INT4 => get(row, idx, |v: i32| Value::Int(v.into())),
        Type::INT8 => get(row, idx, Value::Int),
        Type::OID => get(row, idx, |v: u32| Value::Int(v.into())),
        Type::FLOAT4 => get(row, idx, |v: f32| Value::Float(v.into())),
        Type::FLOAT8 => get(row, idx, Value::Float),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
            get(row, idx, Value::Text)
        }
        Type::BYTEA => get(row, idx, Value::Bytes),
        Type::JSON | Type::JSONB => get(row, idx, |v: RawJson| Value::Json(v.0)),
        Type::TIMESTAMPTZ => get(row, idx, |v: OffsetDateTime| {
            Value::Timestamp(v.format(&Rfc3339).unwrap_or_default())
        }),
        _ if is_geometry_type(ty) => get(row, idx, |g: Geometry| Value::Geometry(g.to_ewkb())),
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
    wrap: impl FnOnce(T) -> Value,
) -> Result<Value, tokio_postgres::Error> {
    Ok(row.try_get::<_, Option<T>>(idx)?.map_or(Value::Null, wrap))
}

/// json/jsonb text without a parse-and-reprint round trip.
struct RawJson(String);

impl<'a> FromSql<'a> for RawJson {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn StdError + Sync + Send>> {
        let text = if *ty == Type::JSONB {
            match raw.split_first() {
                Some((1, rest)) => rest,
                _ => return Err("unknown jsonb binary version".into()),
            }
        } else {
            raw
        };
        Ok(RawJson(std::str::from_utf8(text)?.to_owned()))
    }

    fn accepts(ty: &Type) -> bool {
        matches!(*ty, Type::JSON | Type::JSONB)
    }
}
