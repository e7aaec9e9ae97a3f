//! Where WIT types meet the database layer's: the one place the guest's
//! `db` values, rows and errors become `geofn_db`'s and back. Both sides
//! have the same cases, so each conversion moves strings and buffers
//! instead of copying them, and vectors of values are converted in place.

use geofn_db::value as db;

use crate::bindings::{DbError, PackedRows, QueryFailure, Rows, Value};

/// A guest's statement parameters, as the database layer binds them.
pub fn params(values: Vec<Value>) -> Vec<db::Value> {
    values.into_iter().map(param).collect()
}

fn param(value: Value) -> db::Value {
    match value {
        Value::Null => db::Value::Null,
        Value::Boolean(b) => db::Value::Boolean(b),
        Value::Int(n) => db::Value::Int(n),
        Value::Float(f) => db::Value::Float(f),
        Value::Text(s) => db::Value::Text(s),
        Value::Bytes(b) => db::Value::Bytes(b),
        Value::Json(s) => db::Value::Json(s),
        Value::Geometry(g) => db::Value::Geometry(g),
        Value::Timestamp(t) => db::Value::Timestamp(t),
    }
}

fn cell(value: db::Value) -> Value {
    match value {
        db::Value::Null => Value::Null,
        db::Value::Boolean(b) => Value::Boolean(b),
        db::Value::Int(n) => Value::Int(n),
        db::Value::Float(f) => Value::Float(f),
        db::Value::Text(s) => Value::Text(s),
        db::Value::Bytes(b) => Value::Bytes(b),
        db::Value::Json(s) => Value::Json(s),
        db::Value::Geometry(g) => Value::Geometry(g),
        db::Value::Timestamp(t) => Value::Timestamp(t),
    }
}

/// A statement's rows as the guest receives them.
pub fn rows(rows: db::Rows) -> Rows {
    Rows {
        columns: rows.columns,
        rows: rows
            .rows
            .into_iter()
            .map(|row| row.into_iter().map(cell).collect())
            .collect(),
    }
}

/// Packed rows as the guest receives them.
pub fn packed(rows: db::PackedRows) -> PackedRows {
    PackedRows {
        columns: rows.columns,
        count: rows.count,
        cells: rows.cells,
    }
}

/// A database error as the guest is told it.
pub fn error(err: db::DbError) -> DbError {
    match err {
        db::DbError::Unavailable(why) => DbError::Unavailable(why),
        db::DbError::BadParameter(why) => DbError::BadParameter(why),
        db::DbError::Forbidden(why) => DbError::Forbidden(why),
        db::DbError::QueryFailed(failure) => DbError::QueryFailed(QueryFailure {
            code: failure.code,
            message: failure.message,
            constraint: failure.constraint,
        }),
        db::DbError::UnsupportedType(why) => DbError::UnsupportedType(why),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_case_crosses_unchanged() {
        let values = vec![
            Value::Null,
            Value::Boolean(true),
            Value::Int(-7),
            Value::Float(2.5),
            Value::Text("zoë".into()),
            Value::Bytes(vec![1, 2]),
            Value::Json("{}".into()),
            Value::Geometry(vec![1, 1, 0, 0, 0]),
            Value::Timestamp("2026-12-03T09:00:00Z".into()),
        ];
        let shown = format!("{values:?}");
        let back = rows(db::Rows {
            columns: vec!["a".into()],
            rows: vec![params(values)],
        });
        assert_eq!(format!("{:?}", back.rows[0]), shown);
        let failure = error(db::DbError::QueryFailed(db::QueryFailure {
            code: "23505".into(),
            message: "duplicate".into(),
            constraint: Some("points_pkey".into()),
        }));
        assert!(
            matches!(failure, DbError::QueryFailed(f) if f.constraint.as_deref() == Some("points_pkey"))
        );
    }
}
