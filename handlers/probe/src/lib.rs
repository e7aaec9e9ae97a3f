//! A handler that misbehaves on purpose, for the host's tests.
//!
//! Routes (whatever prefix the test's manifest mounts it under):
//! - `.../echo`: 200 with the request as JSON (method, path, query, headers, body length).
//! - `.../version`: 200 with `PROBE_VERSION` as set at build time (hot-swap tests
//!   build it twice with different values).
//! - `.../trap`: panics, which traps the instance.
//! - `.../db-echo`: round-trips each db value kind through PostgreSQL
//!   (`?packed` reads the answer through `query-packed` instead of `query`).
//! - `.../db-json`: the same values, less bytea and geometry, rendered by
//!   `query-json` and answered as the host rendered them; `?geometry` adds
//!   a geometry column (which has no JSON form: a 500 with the error).
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
//! - `.../escape?host_role=R&marker=/tmp/x`: tries every way out of its
//!   database role it knows (become R, run programs, read and write server
//!   files, touch the host's tables, notify the fleet, create roles,
//!   databases, extensions, objects in `public`, ...); reports, for each,
//!   whether the database refused it. Files it tries to make start with
//!   `marker`.
//! - `.../exec?sql=S`: runs S through `db.execute`; 200 with the rows
//!   affected, or 500 with the error (a hostile handler's whole power).
//! - `.../select?sql=S[&json]`: runs S through `db.query-packed` (or
//!   `db.query-json`); 200 with the number of rows (of bytes), or 500 with
//!   the error.
//! - `.../route`: the route the host matched, as `route.current` gives it.
//! - `.../tx?do=commit|fail|trap|commit-after-error&note=N`: transactions
//!   over its own `notes` table (see `migrations/`): committed, failed by
//!   a statement, ended by a trap, or committed after a failed statement;
//!   `.../notes` lists what is stored.
//! - `.../touch?mib=N&hold_ms=M`: writes N MiB of fresh memory, then holds
//!   it for M ms (memory-budget test).
//! - `.../scatter?seed=S&pages=N&hold_ms=M[&scan=1]` and `.../scan?seed=S`:
//!   a marker written across N scattered pages, and a search of the whole
//!   linear memory for it (see `residue`).
//! - `.../counter`: how many requests this instance has served, this one
//!   included (1 unless the handler reuses instances).
//!
//! Not part of the shipped handlers: `make handlers` builds it beside them
//! for the test suite only.

use geofn_guest::db::{self, Value};
use geofn_guest::http::{self, Problem};
use geofn_guest::packed::Cell;
use geofn_guest::{Guest, Request, Response};
use serde_json::json;

mod residue;

/// Identifies this build in hot-swap tests.
const VERSION: &str = match option_env!("PROBE_VERSION") {
    Some(v) => v,
    None => "dev",
};

thread_local! {
    /// A transaction a hostile handler keeps for a later request.
    static KEPT_TX: std::cell::RefCell<Option<db::Transaction>> = const { std::cell::RefCell::new(None) };
}

/// Requests this instance has served.
static SERVED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

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
            "db-json" => db_json(request.query == "geometry"),
            "spin" => spin(),
            "hog" => hog(),
            "sandbox" => sandbox(&request),
            "dirty" => dirty(),
            "session" => session(),
            "sleep" => sleep(&request),
            "escape" => escape(&request),
            "route" => {
                let matched = geofn_guest::route::current();
                http::json(
                    200,
                    &json!({ "template": matched.template, "params": matched.params }),
                )
            }
            "tx" => transaction(&request),
            "notes" => notes(),
            "exec" => exec(&request),
            "select" => select(&request),
            "touch" => touch(&request),
            "scatter" => residue::scatter(
                number(&request, "seed"),
                number(&request, "pages") as usize,
                number(&request, "hold_ms"),
                param(&request, "scan").is_some(),
            ),
            "scan" => residue::scan(number(&request, "seed")),
            "counter" => {
                let served = SERVED.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                http::json(200, &json!({ "served": served, "version": VERSION }))
            }
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

/// A numeric query parameter, 0 when absent or not a number.
fn number(request: &Request, name: &str) -> u64 {
    param(request, name)
        .and_then(|v| v.parse().ok())
        .unwrap_or_default()
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
         (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'), \
         current_setting('statement_timeout'), current_user::text",
        &[],
    );
    match result {
        Ok(rows) => {
            let cells: Vec<serde_json::Value> = rows.rows[0].iter().map(describe).collect();
            http::json(
                200,
                &json!({
                    "application_name": cells[0],
                    "advisory_locks": cells[1],
                    "statement_timeout": cells[2],
                    "user": cells[3],
                }),
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

/// The transaction cases of the tests.
fn transaction(request: &Request) -> Response {
    let note = param(request, "note").unwrap_or_else(|| "note".into());
    let insert = "INSERT INTO notes (note) VALUES ($1) RETURNING id";
    match param(request, "do").as_deref() {
        Some("commit") => {
            let stored = geofn_guest::tx::transaction(|tx| {
                tx.execute(insert, &[Value::Text(note.clone())])?;
                tx.execute(insert, &[Value::Text(format!("{note}-2"))])?;
                Ok(())
            });
            geofn_guest::error::IntoResponse::into_response(
                stored.map(|()| http::json(200, &json!({ "committed": true }))),
            )
        }
        Some("fail") => {
            let stored = geofn_guest::tx::transaction(|tx| {
                tx.execute(insert, &[Value::Text(note.clone())])?;
                tx.execute("SELECT 1 / 0", &[])?;
                Ok(())
            });
            geofn_guest::error::IntoResponse::into_response(
                stored.map(|()| http::json(200, &json!({ "committed": true }))),
            )
        }
        Some("trap") => {
            let tx = db::begin().expect("begin");
            tx.execute(insert, &[Value::Text(note)]).expect("insert");
            panic!("probe: trapping inside a transaction");
        }
        Some("commit-after-error") => {
            let tx = match db::begin() {
                Ok(tx) => tx,
                Err(err) => return http::json(500, &json!({ "error": format!("{err:?}") })),
            };
            let _ = tx.execute(insert, &[Value::Text(note)]);
            let _ = tx.execute("SELECT 1 / 0", &[]);
            match db::Transaction::commit(tx) {
                Ok(()) => http::json(200, &json!({ "committed": true })),
                Err(err) => http::json(409, &json!({ "error": format!("{err:?}") })),
            }
        }
        // Under reuse: a transaction kept past the end of its request, and
        // used again in a later one.
        Some("leave-open") => {
            let tx = match db::begin() {
                Ok(tx) => tx,
                Err(err) => return http::json(500, &json!({ "error": format!("{err:?}") })),
            };
            let inserted = tx.execute(insert, &[Value::Text(note)]).is_ok();
            KEPT_TX.with(|kept| *kept.borrow_mut() = Some(tx));
            http::json(200, &json!({ "left_open": true, "inserted": inserted }))
        }
        Some("stale") => {
            let Some(tx) = KEPT_TX.with(|kept| kept.borrow_mut().take()) else {
                return http::json(200, &json!({ "had": false }));
            };
            let used = tx.execute(insert, &[Value::Text(note)]);
            let committed = db::Transaction::commit(tx);
            http::json(
                200,
                &json!({ "had": true, "execute_refused": used.is_err(),
                         "commit_refused": committed.is_err() }),
            )
        }
        _ => Problem::new(
            400,
            "bad-parameter",
            "Bad parameter",
            "do=commit|fail|trap|commit-after-error|leave-open|stale",
        )
        .into_response(),
    }
}

/// Every note, in order.
fn notes() -> Response {
    match db::query("SELECT note FROM notes ORDER BY id", &[]) {
        Ok(rows) => {
            let notes: Vec<serde_json::Value> =
                rows.rows.iter().map(|row| describe(&row[0])).collect();
            http::json(200, &json!({ "notes": notes }))
        }
        Err(err) => http::json(500, &json!({ "error": format!("{err:?}") })),
    }
}

/// Runs the statement it is given.
fn exec(request: &Request) -> Response {
    let sql = param(request, "sql").unwrap_or_default();
    match db::execute(&sql, &[]) {
        Ok(rows) => http::json(200, &json!({ "rows": rows })),
        Err(err) => http::json(500, &json!({ "error": format!("{err:?}") })),
    }
}

/// Runs the row-returning statement it is given and counts what came back.
fn select(request: &Request) -> Response {
    let sql = param(request, "sql").unwrap_or_default();
    let answer = if param(request, "json").is_some() {
        db::query_json(&sql, &[]).map(|body| json!({ "bytes": body.len() }))
    } else {
        geofn_guest::packed::query(&sql, &[]).map(|rows| json!({ "rows": rows.len() }))
    };
    match answer {
        Ok(counted) => http::json(200, &counted),
        Err(err) => http::json(500, &json!({ "error": format!("{err:?}") })),
    }
}

/// Allocates and writes `mib` MiB, then keeps it for `hold_ms`.
fn touch(request: &Request) -> Response {
    let mib: usize = param(request, "mib")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let hold_ms: u64 = param(request, "hold_ms")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut memory = vec![0u8; mib << 20];
    // One write per 4 KiB page: every page really committed.
    for page in memory.chunks_mut(4096) {
        page[0] = 1;
    }
    std::hint::black_box(&memory);
    std::thread::sleep(std::time::Duration::from_millis(hold_ms));
    let touched: usize = memory.iter().step_by(4096).map(|&b| b as usize).sum();
    http::json(200, &json!({ "touched_pages": touched }))
}

/// Each way out of the handler's database role this probe knows; `{host}`
/// and `{marker}` are replaced with the host's role and a file prefix.
const ESCAPES: &[(&str, &str)] = &[
    ("set-role", r#"SET ROLE "{host}""#),
    (
        "set-role-in-do",
        r#"DO $$ BEGIN EXECUTE 'SET ROLE "{host}"'; END $$"#,
    ),
    (
        "set-config-role",
        "SELECT set_config('role', '{host}', false)",
    ),
    (
        "set-session-authorization",
        r#"SET SESSION AUTHORIZATION "{host}""#,
    ),
    (
        "set-session-authorization-in-do",
        r#"DO $$ BEGIN EXECUTE 'SET SESSION AUTHORIZATION "{host}"'; END $$"#,
    ),
    (
        "set-config-session-authorization",
        "SELECT set_config('session_authorization', '{host}', false)",
    ),
    (
        "copy-to-program",
        "COPY (SELECT 1) TO PROGRAM 'id > {marker}-program'",
    ),
    (
        "copy-to-program-in-do",
        "DO $$ BEGIN EXECUTE 'COPY (SELECT 1) TO PROGRAM ''id > {marker}-do-program'''; END $$",
    ),
    (
        "copy-to-file-in-do",
        "DO $$ BEGIN EXECUTE 'COPY (SELECT 1) TO ''{marker}-file'''; END $$",
    ),
    (
        "copy-from-file-in-do",
        "DO $$ BEGIN CREATE TEMP TABLE IF NOT EXISTS stolen (line text); \
         EXECUTE 'COPY stolen FROM ''/etc/passwd'''; END $$",
    ),
    ("pg-read-file", "SELECT pg_read_file('/etc/passwd')"),
    (
        "pg-read-binary-file",
        "SELECT pg_read_binary_file('/etc/passwd')",
    ),
    ("pg-ls-dir", "SELECT pg_ls_dir('.')"),
    ("pg-stat-file", "SELECT pg_stat_file('/etc/passwd')"),
    ("lo-import", "SELECT lo_import('/etc/passwd')"),
    (
        "lo-export",
        "SELECT lo_export(lo_from_bytea(0, 'x'::bytea), '{marker}-lo')",
    ),
    (
        "read-host-versions",
        "SELECT count(*) FROM geofn_handler_versions",
    ),
    (
        "write-host-versions",
        "INSERT INTO geofn_handler_versions (name, version, sha256, component, routes, active) \
         VALUES ('evil', 99, 'x', '\\x00'::bytea, '{}', true)",
    ),
    (
        "activate-host-version",
        "UPDATE geofn_handler_versions SET active = true",
    ),
    ("read-host-secret", "SELECT value FROM geofn_secrets"),
    (
        "read-host-migrations",
        "SELECT count(*) FROM geofn_migrations",
    ),
    ("drop-host-table", "DROP TABLE geofn_handler_versions"),
    ("notify-fleet", "NOTIFY geofn_handlers, 'probe'"),
    (
        "pg-notify-fleet",
        "SELECT pg_notify('geofn_handlers', 'probe')",
    ),
    (
        "create-role",
        "CREATE ROLE evil LOGIN SUPERUSER PASSWORD 'evil'",
    ),
    ("alter-self-superuser", "ALTER ROLE CURRENT_USER SUPERUSER"),
    (
        "alter-self-createrole",
        "ALTER ROLE CURRENT_USER CREATEROLE",
    ),
    ("alter-self-bypassrls", "ALTER ROLE CURRENT_USER BYPASSRLS"),
    (
        "alter-self-connection-limit",
        "ALTER ROLE CURRENT_USER CONNECTION LIMIT 1000",
    ),
    ("grant-host-role", r#"GRANT "{host}" TO CURRENT_USER"#),
    (
        "grant-server-files",
        "GRANT pg_read_server_files TO CURRENT_USER",
    ),
    (
        "grant-server-programs",
        "GRANT pg_execute_server_program TO CURRENT_USER",
    ),
    ("create-database", "CREATE DATABASE evil"),
    ("create-extension", "CREATE EXTENSION IF NOT EXISTS dblink"),
    (
        "create-trusted-extension",
        "CREATE EXTENSION IF NOT EXISTS pgcrypto",
    ),
    ("create-in-public", "CREATE TABLE public.evil (x int)"),
    ("create-schema", "CREATE SCHEMA evil"),
    (
        "create-c-function",
        "CREATE FUNCTION evil_system(cstring) RETURNS int AS 'libc.so.6', 'system' LANGUAGE C",
    ),
    (
        "load-library-in-do",
        "DO $$ BEGIN EXECUTE 'LOAD ''auto_explain'''; END $$",
    ),
    ("alter-system", "ALTER SYSTEM SET log_statement = 'all'"),
    (
        "terminate-host",
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{host}'",
    ),
    ("read-password-hashes", "SELECT rolpassword FROM pg_authid"),
    // The points handler's table, in its schema.
    (
        "read-undeclared-table",
        "SELECT count(*) FROM points.points",
    ),
    ("write-undeclared-table", "DELETE FROM points.points"),
    (
        "create-in-another-schema",
        "CREATE TABLE points.evil (x int)",
    ),
];

/// Reads of what the handler's role must not see, through `query-json`.
const JSON_READS: &[(&str, &str)] = &[
    (
        "json-read-host-versions",
        "SELECT name, sha256 FROM geofn_handler_versions",
    ),
    (
        "json-read-password-hashes",
        "SELECT rolname, rolpassword FROM pg_authid",
    ),
];

/// Runs every attempt of [`ESCAPES`] and [`JSON_READS`]; each should come back refused. Then
/// sends the one thing any role may do, a `NOTIFY` on the fleet's channel,
/// hidden from the host's own check: it runs, and replicas must ignore it.
fn escape(request: &Request) -> Response {
    let host = param(request, "host_role").unwrap_or_else(|| "postgres".into());
    let marker = param(request, "marker").unwrap_or_else(|| "/tmp/geofn-escape".into());
    let plain = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-@/.".contains(&b))
    };
    if !plain(&host) || !plain(&marker) {
        return Problem::new(400, "bad-parameter", "Bad parameter", "plain names only")
            .into_response();
    }
    let mut outcomes = serde_json::Map::new();
    for (name, template) in ESCAPES {
        let sql = template
            .replace("{host}", &host)
            .replace("{marker}", &marker);
        let outcome = match db::execute(&sql, &[]) {
            Ok(rows) => json!({ "refused": false, "rows": rows }),
            Err(err) => json!({ "refused": true, "error": format!("{err:?}") }),
        };
        outcomes.insert((*name).to_owned(), outcome);
    }
    // The same reads through `query-json`, whose rows the host renders:
    // confined exactly as `execute` and `query` are.
    for (name, sql) in JSON_READS {
        let outcome = match db::query_json(sql, &[]) {
            Ok(body) => json!({ "refused": false, "body": String::from_utf8_lossy(&body) }),
            Err(err) => json!({ "refused": true, "error": format!("{err:?}") }),
        };
        outcomes.insert((*name).to_owned(), outcome);
    }
    let hidden_notify = "DO $$ BEGIN EXECUTE 'NOTI' || 'FY geofn_handlers, ''probe'''; END $$";
    let sent = db::execute(hidden_notify, &[]).map_err(|e| format!("{e:?}"));
    http::json(
        200,
        &json!({ "attempts": outcomes, "hidden_notify": format!("{sent:?}") }),
    )
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

/// Rows rendered by the host's `query-json`, answered untouched: two rows,
/// so the test sees the separators and members in select-list order.
fn db_json(with_geometry: bool) -> Response {
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

fn describe(value: &Value) -> serde_json::Value {
    describe_cell(&Cell::from(value))
}

geofn_guest::export_handler!(Probe);
geofn_guest::handler_manifest!(include_str!(concat!(
    env!("OUT_DIR"),
    "/geofn-handler.toml"
)));
