//! db value binding: any values against any parameter types must bind or be
//! refused with a message, never panic; what binds must encode; geometries
//! that decode must re-encode to a fixed point.
#![no_main]

use arbitrary::Arbitrary;
use bytes::BytesMut;
use geofn_db::value::Value;
use geofn_db::bind::bind;
use geofn_db::geometry::Geometry;
use libfuzzer_sys::fuzz_target;
use tokio_postgres::types::{ToSql, Type};

#[derive(Debug, Arbitrary)]
enum FuzzValue {
    Null,
    Boolean(bool),
    Int(i64),
    Float(f64),
    Text(String),
    Bytes(Vec<u8>),
    Json(String),
    Geometry(Vec<u8>),
    Timestamp(String),
}

impl From<FuzzValue> for Value {
    fn from(v: FuzzValue) -> Self {
        match v {
            FuzzValue::Null => Value::Null,
            FuzzValue::Boolean(b) => Value::Boolean(b),
            FuzzValue::Int(n) => Value::Int(n),
            FuzzValue::Float(f) => Value::Float(f),
            FuzzValue::Text(s) => Value::Text(s),
            FuzzValue::Bytes(b) => Value::Bytes(b),
            FuzzValue::Json(s) => Value::Json(s),
            FuzzValue::Geometry(g) => Value::Geometry(g),
            FuzzValue::Timestamp(t) => Value::Timestamp(t),
        }
    }
}

const TYPES: &[Type] = &[
    Type::BOOL,
    Type::INT2,
    Type::INT4,
    Type::INT8,
    Type::FLOAT4,
    Type::FLOAT8,
    Type::TEXT,
    Type::VARCHAR,
    Type::BYTEA,
    Type::JSON,
    Type::JSONB,
    Type::TIMESTAMPTZ,
    Type::NUMERIC,
];

#[derive(Debug, Arbitrary)]
struct Input {
    types: Vec<u8>,
    values: Vec<FuzzValue>,
    ewkb: Vec<u8>,
}

fuzz_target!(|input: Input| {
    let types: Vec<Type> = input
        .types
        .iter()
        .map(|t| TYPES[*t as usize % TYPES.len()].clone())
        .collect();
    let values: Vec<Value> = input.values.into_iter().map(Value::from).collect();
    if let Ok(params) = bind(&types, values) {
        for (param, ty) in params.iter().zip(&types) {
            let mut out = BytesMut::new();
            let _ = param.to_sql(ty, &mut out);
        }
    }
    if let Ok(geometry) = Geometry::from_ewkb(&input.ewkb) {
        let once = geometry.to_ewkb();
        let again = Geometry::from_ewkb(&once).expect("our own EWKB must decode").to_ewkb();
        assert_eq!(once, again, "EWKB encoding is not a fixed point");
    }
});
