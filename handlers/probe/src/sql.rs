//! Any SQL a hostile handler sends, through `db.execute` and the query calls.

use geofn_guest::db;
use geofn_guest::http;
use geofn_guest::{Request, Response};
use serde_json::json;

use crate::args::param;

/// Runs the statement it is given.
pub fn exec(request: &Request) -> Response {
    let sql = param(request, "sql").unwrap_or_default();
    match db::execute(&sql, &[]) {
        Ok(rows) => http::json(200, &json!({ "rows": rows })),
        Err(err) => http::json(500, &json!({ "error": format!("{err:?}") })),
    }
}

/// Runs the row-returning statement it is given and counts what came back.
pub fn select(request: &Request) -> Response {
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
