//! Transactions over the probe's own `notes` table: committed, failed, trapped, kept.

use geofn_guest::db::{self, Value};
use geofn_guest::http::{self, Problem};
use geofn_guest::{Request, Response};
use serde_json::json;

use crate::args::param;
use crate::values::describe;

thread_local! {
    /// A transaction a hostile handler keeps for a later request.
    static KEPT_TX: std::cell::RefCell<Option<db::Transaction>> = const { std::cell::RefCell::new(None) };
}

/// The transaction cases of the tests.
pub fn transaction(request: &Request) -> Response {
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

/// A schedule's tick: one note naming the schedule, autocommitted.
pub fn tick(request: &Request) -> Response {
    let schedule = request
        .headers
        .iter()
        .find(|(name, _)| name == "geofn-schedule")
        .map_or("none", |(_, value)| value.as_str());
    let note = format!("tick:{schedule}");
    match db::execute("INSERT INTO notes (note) VALUES ($1)", &[Value::Text(note)]) {
        Ok(_) => http::json(200, &json!({ "ticked": schedule })),
        Err(err) => http::json(500, &json!({ "error": format!("{err:?}") })),
    }
}

/// Every note, in order.
pub fn notes() -> Response {
    match db::query("SELECT note FROM notes ORDER BY id", &[]) {
        Ok(rows) => {
            let notes: Vec<serde_json::Value> =
                rows.rows.iter().map(|row| describe(&row[0])).collect();
            http::json(200, &json!({ "notes": notes }))
        }
        Err(err) => http::json(500, &json!({ "error": format!("{err:?}") })),
    }
}
