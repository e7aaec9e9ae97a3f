//! A handler that misbehaves on purpose, for the host's tests.
//!
//! Routes (whatever prefix the test's manifest mounts it under):
//! - `.../echo`: 200 with the request as JSON (method, path, query, headers, body length).
//! - `.../version`: 200 with `PROBE_VERSION` as set at build time (hot-swap tests
//!   build it twice with different values).
//! - `.../trap`: panics, which traps the instance.
//! - `.../db-echo`: round-trips each db value kind through PostgreSQL
//!   (`?packed` reads the answer through `query-packed` instead of `query`).
//! - `.../spin`: loops forever without calling the host (deadline test).
//! - `.../hog`: grows memory until the allocator fails (memory-cap test).
//! - `.../sandbox?port=N`: tries to read files, environment variables,
//!   arguments, the clock and a TCP connection to 127.0.0.1:N; reports
//!   what it got (all of it should be refused or empty).
//! - `.../dirty`: leaves session state on its connection (a setting and an
//!   advisory lock) to show the host cleans it before reuse.
//! - `.../session`: reports that state, as seen by the next request.
//! - `.../sleep?ms=N`: waits on PostgreSQL (`pg_sleep`) for N ms.
//! - `.../log?message=M`: writes M through the host's `log` import.
//!
//! Not part of the shipped handlers: `make handlers` builds it beside them
//! for the test suite only.

use geofn_guest::db::{self, Value};
use geofn_guest::http::{self, Problem};
use geofn_guest::packed::Cell;
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
            "db-echo" => db_echo(request.query == "packed"),
            "spin" => spin(),
            "hog" => hog(),
            "sandbox" => sandbox(&request),
            "dirty" => dirty(),
            "session" => session(),
            "sleep" => sleep(&request),
            "log" => {
                let message = param(&request, "message").unwrap_or_else(|| "hello".into());
                geofn_guest::log::log(geofn_guest::log::Level::Info, &message);
                http::json(200, &json!({ "logged": message }))
            }
            _ => Problem::not_found("probe: unknown action").into_response(),
        }
    }
}

fn param(request: &Request, name: &str) -> Option<String> {
    request
        .query_pairs()
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

#[allow(clippy::empty_loop)]
fn spin() -> Response {
    let mut n: u64 = 0;
    loop {
        n = std::hint::black_box(n.wrapping_add(1));
    }
}

fn hog() -> Response {
    let mut kept: Vec<Vec<u8>> = Vec::new();
    loop {
        // Touch every page so the memory is really committed.
        kept.push(vec![1u8; 1 << 20]);
        std::hint::black_box(&kept);
    }
}

fn sandbox(request: &Request) -> Response {
    let file = std::fs::read_to_string("/etc/passwd")
        .map(|s| format!("read {} bytes", s.len()))
        .map_err(|e| e.to_string());
    let dir = std::fs::read_dir("/")
        .map(|d| format!("{} entries", d.count()))
        .map_err(|e| e.to_string());
    let env: Vec<(String, String)> = std::env::vars().collect();
    let args: Vec<String> = std::env::args().collect();
    let port = param(request, "port").unwrap_or_else(|| "5432".into());
    let socket = std::net::TcpStream::connect(format!("127.0.0.1:{port}"))
        .map(|_| "connected".to_owned())
        .map_err(|e| e.to_string());
    let lookup = std::net::ToSocketAddrs::to_socket_addrs(&("localhost", 80))
        .map(|a| format!("{} addresses", a.count()))
        .map_err(|e| e.to_string());
    http::json(
        200,
        &json!({
            "file": format!("{file:?}"),
            "dir": format!("{dir:?}"),
            "env": env,
            "args": args,
            "socket": format!("{socket:?}"),
            "lookup": format!("{lookup:?}"),
        }),
    )
}

fn dirty() -> Response {
    let result = db::query(
        "SELECT set_config('application_name', 'dirtied-by-probe', false), pg_try_advisory_lock(4242)",
        &[],
    );
    match result {
        Ok(_) => http::json(200, &json!({ "dirtied": true })),
        Err(err) => http::json(500, &json!({ "error": format!("{err:?}") })),
    }
}

fn session() -> Response {
    let result = db::query(
        "SELECT current_setting('application_name'), \
         (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory')",
        &[],
    );
    match result {
        Ok(rows) => {
            let cells: Vec<serde_json::Value> = rows.rows[0].iter().map(describe).collect();
            http::json(
                200,
                &json!({ "application_name": cells[0], "advisory_locks": cells[1] }),
            )
        }
        Err(err) => http::json(500, &json!({ "error": format!("{err:?}") })),
    }
}

fn sleep(request: &Request) -> Response {
    let ms: f64 = param(request, "ms")
        .and_then(|v| v.parse().ok())
        .unwrap_or(100.0);
    match db::query("SELECT 1 FROM pg_sleep($1)", &[Value::Float(ms / 1000.0)]) {
        Ok(_) => http::json(200, &json!({ "slept_ms": ms })),
        Err(geofn_guest::db::DbError::Unavailable(why)) => {
            geofn_guest::sql::failure_response("sleep", geofn_guest::db::DbError::Unavailable(why))
        }
        Err(err) => http::json(500, &json!({ "error": format!("{err:?}") })),
    }
}

/// Sends one value of each kind through `SELECT $1, ...` and reports what
/// came back, read through `query` or, when `packed`, `query-packed`.
fn db_echo(packed: bool) -> Response {
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

fn describe(value: &Value) -> serde_json::Value {
    describe_cell(&Cell::from(value))
}

geofn_guest::export_handler!(Probe);
