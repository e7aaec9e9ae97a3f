//! Every `db` value kind through PostgreSQL and back, owned, packed and as JSON.

use geofn_guest::Response;
use geofn_guest::db::{self, Value};
use geofn_guest::http;
use geofn_guest::packed::Cell;
use serde_json::json;

/// Sends one value of each kind through `SELECT $1, ...` and reports what
/// came back, read through `query` or, when `packed`, `query-packed`.
pub fn db_echo(packed: bool) -> Response {
    let sql = "SELECT $1::bool, $2::int4, $3::int8, $4::float8, $5::text, $6::bytea, \
               $7::jsonb, $8::geometry, now() AS ts, NULL::text AS nothing";
    let params = [
        Value::Boolean(true),
        Value::Int(42),
        Value::Int(i64::MAX),
        Value::Float(0.1),
        Value::Text("zoë".into()),
        Value::Bytes(vec![0, 1, 255]),
        Value::Json(r#"{"a": [1, 2]}"#.into()),
        Value::Geometry(geofn_guest::geometry::point_ewkb(2.3522, 48.8566, 4326)),
    ];
    let answer = if packed {
        geofn_guest::packed::query(sql, &params).map(|rows| {
            let cells = rows.map_rows(|cells| Some(cells.iter().map(describe_cell).collect()));
            (rows.columns().to_vec(), cells.unwrap_or_default())
        })
    } else {
        db::query(sql, &params).map(|rows| {
            let cells = rows
                .rows
                .iter()
                .map(|row| row.iter().map(describe).collect());
            (rows.columns, cells.collect())
        })
    };
    match answer {
        Ok((columns, rows)) => {
            let rows: Vec<Vec<serde_json::Value>> = rows;
            http::json(200, &json!({ "columns": columns, "cells": rows.first() }))
        }
        Err(err) => http::json(500, &json!({ "error": format!("{err:?}") })),
    }
}

/// Rows rendered by the host's `query-json`, answered untouched: two rows,
/// so the test sees the separators and members in select-list order.
pub fn db_json(with_geometry: bool) -> Response {
    let geometry = if with_geometry {
        ", $4::geometry AS g"
    } else {
        ""
    };
    let sql = format!(
        "SELECT n AS id, $1::text || n AS name, n = 1 AS first, $2::float8 * n AS x, \
         $3::jsonb AS doc, '2026-01-02T03:04:05Z'::timestamptz AS at, \
         NULL::int4 AS nothing, 'NaN'::float8 AS nan{geometry} \
         FROM generate_series(1, 2) AS n"
    );
    let mut params = vec![
        Value::Text("zoë \"".into()),
        Value::Float(1.5),
        Value::Json(r#"{"a": [1, 2]}"#.into()),
    ];
    if with_geometry {
        params.push(Value::Geometry(geofn_guest::geometry::point_ewkb(
            2.3522, 48.8566, 4326,
        )));
    }
    match db::query_json(&sql, &params) {
        Ok(body) => Response {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body,
        },
        Err(err) => http::json(500, &json!({ "error": format!("{err:?}") })),
    }
}

/// A cell as the tests read it.
fn describe_cell(cell: &Cell<'_>) -> serde_json::Value {
    match *cell {
        Cell::Null => json!(null),
        Cell::Boolean(b) => json!({ "boolean": b }),
        Cell::Int(n) => json!({ "int": n }),
        Cell::Float(f) => json!({ "float": f }),
        Cell::Text(s) => json!({ "text": s }),
        Cell::Bytes(b) => json!({ "bytes": b }),
        Cell::Json(s) => json!({ "json": s }),
        Cell::Geometry(g) => json!({ "geometry": geofn_guest::geometry::point_xy(g) }),
        Cell::Timestamp(t) => json!({ "timestamp": t }),
    }
}

pub fn describe(value: &Value) -> serde_json::Value {
    describe_cell(&Cell::from(value))
}
