//! Answers every request with `200 {}` and touches nothing: what remains of
//! a request's cost is the host's (routing, a fresh instance, the call).

use geofn_guest::{Guest, Request, Response};

struct Empty;

impl Guest for Empty {
    fn handle(_request: Request) -> Response {
        Response {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body: b"{}".to_vec(),
        }
    }
}

geofn_guest::export_handler!(Empty);
