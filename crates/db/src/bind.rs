//! Statement parameters from WIT values, checked against the types
//! PostgreSQL inferred when it prepared the statement.
//!
//! tokio-postgres sends parameters in binary, so a value must match its
//! parameter's type exactly; checking here turns a confusing wire error into
//! `db-error::bad-parameter` naming the parameter and both types.

use std::error::Error as StdError;

use bytes::{BufMut, BytesMut};
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};

use crate::geometry::{Geometry, is_geometry_type};
use crate::value::Value;

/// Version byte that prefixes jsonb's binary representation.
const JSONB_VERSION: u8 = 1;

/// A parameter converted to exactly the type its placeholder has.
#[derive(Debug)]
pub enum Param {
    /// SQL NULL, whatever the type.
    Null,
    /// boolean
    Bool(bool),
    /// smallint
    I16(i16),
    /// integer
    I32(i32),
    /// bigint
    I64(i64),
    /// real
    F32(f32),
    /// double precision
    F64(f64),
    /// text-like types
    Text(String),
    /// bytea
    Bytes(Vec<u8>),
    /// json (text on the wire)
    Json(String),
    /// jsonb (version byte, then text)
    Jsonb(String),
    /// geometry / geography
    Geometry(Geometry),
}

/// Bound parameters as tokio-postgres takes them.
pub fn as_refs(params: &[Param]) -> Vec<&(dyn ToSql + Sync)> {
    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect()
}

/// Converts `values` for a statement whose placeholders have `types`.
pub fn bind(types: &[Type], values: Vec<Value>) -> Result<Vec<Param>, String> {
    if types.len() != values.len() {
        return Err(format!(
            "the statement has {} parameter(s), {} value(s) were given",
            types.len(),
            values.len()
        ));
    }
    types
        .iter()
        .zip(values)
        .enumerate()
        .map(|(i, (ty, value))| convert(ty, value).map_err(|why| format!("${}: {why}", i + 1)))
        .collect()
}

fn convert(ty: &Type, value: Value) -> Result<Param, String> {
    let mismatch = |kind: &str| {
        format!(
            "a {kind} value cannot be bound to a parameter of type {}; \
             cast the placeholder in SQL (e.g. $n::{}) or send another value kind",
            ty.name(),
            ty.name()
        )
    };
    Ok(match value {
        Value::Null => Param::Null,
        Value::Boolean(b) if *ty == Type::BOOL => Param::Bool(b),
        Value::Boolean(_) => return Err(mismatch("boolean")),
        Value::Int(n) => match *ty {
            Type::INT8 => Param::I64(n),
            Type::INT4 => Param::I32(
                i32::try_from(n).map_err(|_| format!("{n} does not fit an integer (int4)"))?,
            ),
            Type::INT2 => Param::I16(
                i16::try_from(n).map_err(|_| format!("{n} does not fit a smallint (int2)"))?,
            ),
            #[allow(clippy::cast_precision_loss)]
            Type::FLOAT8 => Param::F64(n as f64),
            #[allow(clippy::cast_precision_loss)]
            Type::FLOAT4 => Param::F32(n as f32),
            _ => return Err(mismatch("int")),
        },
        Value::Float(f) => match *ty {
            Type::FLOAT8 => Param::F64(f),
            #[allow(clippy::cast_possible_truncation)]
            Type::FLOAT4 => Param::F32(f as f32),
            _ => return Err(mismatch("float")),
        },
        Value::Text(s) => match *ty {
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
                if s.contains('\0') {
                    return Err("text cannot contain NUL characters".to_owned());
                }
                Param::Text(s)
            }
            _ => return Err(mismatch("text")),
        },
        Value::Bytes(b) if *ty == Type::BYTEA => Param::Bytes(b),
        Value::Bytes(_) => return Err(mismatch("bytes")),
        Value::Json(s) => match *ty {
            Type::JSON => Param::Json(s),
            Type::JSONB => Param::Jsonb(s),
            _ => return Err(mismatch("json")),
        },
        Value::Geometry(ewkb) if is_geometry_type(ty) => {
            Param::Geometry(Geometry::from_ewkb(&ewkb)?)
        }
        Value::Geometry(_) => return Err(mismatch("geometry")),
        Value::Timestamp(_) => {
            return Err(format!(
                "timestamps are not bound directly; send text and cast it in SQL \
                 (e.g. ($n::text)::{})",
                ty.name()
            ));
        }
    })
}

impl ToSql for Param {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        match self {
            Param::Null => Ok(IsNull::Yes),
            Param::Bool(v) => v.to_sql(ty, out),
            Param::I16(v) => v.to_sql(ty, out),
            Param::I32(v) => v.to_sql(ty, out),
            Param::I64(v) => v.to_sql(ty, out),
            Param::F32(v) => v.to_sql(ty, out),
            Param::F64(v) => v.to_sql(ty, out),
            Param::Text(v) => v.to_sql(ty, out),
            Param::Bytes(v) => v.to_sql(ty, out),
            Param::Json(v) => {
                out.put_slice(v.as_bytes());
                Ok(IsNull::No)
            }
            Param::Jsonb(v) => {
                out.put_u8(JSONB_VERSION);
                out.put_slice(v.as_bytes());
                Ok(IsNull::No)
            }
            Param::Geometry(g) => g.to_sql(ty, out),
        }
    }

    /// [`bind`] already matched each value to its parameter's type.
    fn accepts(_ty: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints_narrow_with_range_checks() {
        assert!(matches!(
            bind(&[Type::INT4], vec![Value::Int(7)]).unwrap()[0],
            Param::I32(7)
        ));
        let err = bind(&[Type::INT2], vec![Value::Int(1 << 20)]).unwrap_err();
        assert!(err.starts_with("$1:") && err.contains("smallint"), "{err}");
    }

    #[test]
    fn mismatches_name_the_parameter_and_types() {
        let err = bind(
            &[Type::INT8, Type::TEXT],
            vec![Value::Int(1), Value::Boolean(true)],
        )
        .unwrap_err();
        assert!(
            err.starts_with("$2:") && err.contains("boolean") && err.contains("text"),
            "{err}"
        );
    }

    #[test]
    fn counts_must_match() {
        let err = bind(&[Type::INT8], vec![]).unwrap_err();
        assert!(err.contains("1 parameter"), "{err}");
    }

    #[test]
    fn null_binds_to_anything() {
        assert!(matches!(
            bind(&[Type::BYTEA], vec![Value::Null]).unwrap()[0],
            Param::Null
        ));
    }

    #[test]
    fn nul_in_text_is_refused_before_postgres() {
        let err = bind(&[Type::TEXT], vec![Value::Text("a\0b".into())]).unwrap_err();
        assert!(err.contains("NUL"), "{err}");
    }
}
