//! The points API of the original Flask guide, as a geofn handler component.
//!
//! Routes (mapped to this component by `handlers/geofn.toml`):
//! - `POST /point` stores a point and answers 201 with it and its `Location`.
//! - `GET /points` lists points newest first (`limit`, default 100, max 10000).
//! - `GET /points/{id}` and `DELETE /points/{id}` answer 200/204 or 404.
//!
//! Wire format of a point: `{"id","name","longitude","latitude"}`, as the
//! guide's Flask app. Every rejected input is a problem document and stores
//! nothing: validation runs before the first database call.

mod input;
mod store;

use geofn_guest::http::{self, Problem};
use geofn_guest::{Guest, Request, Response};

struct Points;

impl Guest for Points {
    fn handle(request: Request) -> Response {
        let segments = request.segments();
        let result = match (request.method.as_str(), segments.as_slice()) {
            ("POST", ["point"]) => create(&request),
            ("GET", ["points"]) => list(&request),
            ("GET", ["points", id]) => input::point_id(id).and_then(fetch),
            ("DELETE", ["points", id]) => input::point_id(id).and_then(remove),
            _ => Err(Problem::not_found(format!(
                "{} {} is not a route of the points handler",
                request.method, request.path
            ))
            .into_response()),
        };
        result.unwrap_or_else(|response| response)
    }
}

/// Handler results: either the answer, or an error answer already rendered.
type Answer = Result<Response, Response>;

fn create(request: &Request) -> Answer {
    let new_point = input::new_point(request)?;
    let point = store::insert(&new_point)?;
    Ok(http::json(201, &point).with_header("location", format!("/points/{}", point.id)))
}

fn list(request: &Request) -> Answer {
    let limit = input::limit(&request.query_pairs())?;
    let points = store::newest(limit)?;
    Ok(http::json(200, &points))
}

fn fetch(id: i64) -> Answer {
    match store::by_id(id)? {
        Some(point) => Ok(http::json(200, &point)),
        None => Err(no_such_point(id)),
    }
}

fn remove(id: i64) -> Answer {
    if store::delete(id)? {
        Ok(http::empty(204))
    } else {
        Err(no_such_point(id))
    }
}

fn no_such_point(id: i64) -> Response {
    Problem::not_found(format!("there is no point with id {id}")).into_response()
}

geofn_guest::export_handler!(Points);
