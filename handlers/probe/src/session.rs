//! Session state left on a pooled connection, and waits on PostgreSQL.

use geofn_guest::db::{self, Value};
use geofn_guest::http;
use geofn_guest::{Request, Response};
use serde_json::json;

use crate::args::param;
use crate::values::describe;

pub fn dirty() -> Response {
    let result = db::query(
        "SELECT set_config('application_name', 'dirtied-by-probe', false), pg_try_advisory_lock(4242)",
        &[],
    );
    match result {
        Ok(_) => http::json(200, &json!({ "dirtied": true })),
        Err(err) => http::json(500, &json!({ "error": format!("{err:?}") })),
    }
}

pub fn session() -> Response {
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

/// `pg_sleep(ms)`, `times` times over (one by default): a handler that
/// mostly waits on its database.
pub fn sleep(request: &Request) -> Response {
    let ms: f64 = param(request, "ms")
        .and_then(|v| v.parse().ok())
        .unwrap_or(100.0);
    let times: u32 = param(request, "times")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let slept = (0..times).try_for_each(|_| {
        db::query("SELECT 1 FROM pg_sleep($1)", &[Value::Float(ms / 1000.0)]).map(drop)
    });
    match slept {
        Ok(()) => http::json(200, &json!({ "slept_ms": ms * f64::from(times) })),
        Err(geofn_guest::db::DbError::Unavailable(why)) => {
            geofn_guest::sql::failure_response("sleep", geofn_guest::db::DbError::Unavailable(why))
        }
        Err(err) => http::json(500, &json!({ "error": format!("{err:?}") })),
    }
}
