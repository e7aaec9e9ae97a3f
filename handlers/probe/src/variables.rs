//! `.../config?name=N[&leak=log|panic|span|sql]`: a variable through
//! `wasi:config/store`, and every way a careless handler would write its
//! value where the host writes (the host must cut secrets out of each).

use geofn_guest::http;
use geofn_guest::wit::db::{self, Value};
use geofn_guest::{Request, Response};
use serde_json::json;

use crate::args::param;

/// Answers the variable's value (and every variable's name); with `leak`,
/// first writes the value to the log, a panic, a span or a database error.
pub fn config(request: &Request) -> Response {
    let name = param(request, "name").unwrap_or_default();
    let value = geofn_guest::config::get(&name);
    let text = value.clone().unwrap_or_default();
    match param(request, "leak").as_deref() {
        Some("log") => geofn_guest::log::log(
            geofn_guest::log::Level::Warn,
            &format!("careless: {name} is {text}"),
        ),
        Some("panic") => panic!("careless: {name} is {text}"),
        Some("span") => {
            let span = geofn_guest::trace::span(&format!("careless {text}"));
            span.set_attribute("probe.value", &text);
            span.set_error(&format!("careless: {text}"));
        }
        Some("sql") => {
            // PostgreSQL quotes the value in its error: invalid integer.
            let failed = db::execute("SELECT $1::text::int", &[Value::Text(text.clone())]);
            return http::json(500, &json!({ "error": failed.is_err() }));
        }
        _ => {}
    }
    let names: Vec<String> = geofn_guest::bindings::wasi::config::store::get_all()
        .map(|all| all.into_iter().map(|(name, _)| name).collect())
        .unwrap_or_default();
    http::json(
        200,
        &json!({ "name": name, "value": value, "names": names }),
    )
}
