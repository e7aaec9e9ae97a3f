//! A handler that misbehaves on purpose, for the host's tests.
//!
//! Routes (whatever prefix the test's manifest mounts it under):
//! - `.../echo`: 200 with the request as JSON (method, path, query, headers, body length).
//! - `.../version`: 200 with `PROBE_VERSION` as set at build time (hot-swap tests
//!   build it twice with different values).
//! - `.../trap`: panics, which traps the instance.
//! - `.../db-echo`: round-trips each db value kind through PostgreSQL.
//!
//! Not part of the shipped handlers: `make handlers` builds it beside them
//! for the test suite only.

use geofn_guest::db::{self, Value};
use geofn_guest::http::{self, Problem};
use geofn_guest::{Guest, Request, Response};
use serde_json::json;

/// Identifies this build in hot-swap tests.
const VERSION: &str = match option_env!("PROBE_VERSION") {
    Some(v) => v,
    None => "dev",
};

struct Probe;

impl Guest for Probe {
    fn handle(request: Request) -> Response {
        match request.path.rsplit('/').next().unwrap_or_default() {
            "echo" => http::json(
                200,
                &json!({
                    "method": request.method,
                    "path": request.path,
                    "query": request.query,
                    "headers": request.headers,
                    "body_bytes": request.body.len(),
                }),
            ),
            "version" => http::json(200, &json!({ "version": VERSION })),
            "trap" => panic!("probe: trapping on request"),
            "db-echo" => db_echo(),
            _ => Problem::not_found("probe: unknown action").into_response(),
        }
    }
}

/// Sends one value of each kind through `SELECT $1, ...` and reports what came back.
fn db_echo() -> Response {
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
    match db::query(sql, &params) {
        Ok(rows) => {
            let cells: Vec<serde_json::Value> = rows.rows[0].iter().map(describe).collect();
            http::json(200, &json!({ "columns": rows.columns, "cells": cells }))
        }
        Err(err) => http::json(500, &json!({ "error": format!("{err:?}") })),
    }
}

fn describe(value: &Value) -> serde_json::Value {
    match value {
        Value::Null => json!(null),
        Value::Boolean(b) => json!({ "boolean": b }),
        Value::Int(n) => json!({ "int": n }),
        Value::Float(f) => json!({ "float": f }),
        Value::Text(s) => json!({ "text": s }),
        Value::Bytes(b) => json!({ "bytes": b }),
        Value::Json(s) => json!({ "json": s }),
        Value::Geometry(g) => json!({ "geometry": geofn_guest::geometry::point_xy(g) }),
        Value::Timestamp(t) => json!({ "timestamp": t }),
    }
}

geofn_guest::export_handler!(Probe);
