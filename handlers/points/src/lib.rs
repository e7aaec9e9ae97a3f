//! The points API of the original Flask guide, as a geofn handler component,
//! grown into a spatial API.
//!
//! Routes (mapped to this component by `handlers/geofn.toml`):
//! - `POST /point` stores a point and answers 201 with it and its `Location`.
//! - `GET /points` lists points: newest first, or nearest first with
//!   `near`+`radius`; `bbox` filters; `limit` (default 100, max 10000) and a
//!   keyset `cursor` page through, with `Link: <...>; rel="next"`.
//!   `Accept: application/geo+json` (or `f=geojson`) gives a FeatureCollection.
//! - `GET /points/{id}` and `DELETE /points/{id}` answer 200/204 or 404.
//!
//! Wire format of a point: `{"id","name","longitude","latitude"}`, as the
//! guide's Flask app (`distance_m` added for nearest-first listings). Every
//! rejected input is a problem document and stores nothing: validation runs
//! before the first database call.

mod input;
mod store;

use geofn_guest::http::{self, Problem};
use geofn_guest::{Guest, Request, Response};
use pointquery::filter::{self, Limits};
use pointquery::geojson::{self, GEOJSON};

/// `limit` bounds of `GET /points`, as DESIGN.md gives them.
const LIMITS: Limits = Limits {
    default: 100,
    max: 10_000,
};

struct Points;

impl Guest for Points {
    fn handle(request: Request) -> Response {
        let segments = request.segments();
        let result = match (request.method.as_str(), segments.as_slice()) {
            ("POST", ["point"]) => create(&request),
            ("GET", ["points"]) => list(&request),
            ("GET", ["points", id]) => input::point_id(id).and_then(|id| fetch(&request, id)),
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
    let pairs = request.query_pairs();
    let f = filter::single(&pairs, "f").map_err(Problem::into_response)?;
    if let Some(f) = f.filter(|f| !matches!(*f, "json" | "geojson")) {
        return Err(
            Problem::bad_parameter("f", format!("f is json or geojson, got {f:?}")).into_response(),
        );
    }
    let query = filter::parse(&pairs, LIMITS).map_err(Problem::into_response)?;
    let page = pointquery::store::fetch(&query)?;
    let next = page
        .next
        .map(|cursor| format!("/points?{}", pointquery::next_query(&pairs, &cursor)));
    let response = if geojson::wants_geojson(request.header("accept"), f) {
        let mut links = vec![geojson::link(
            &format!("/points?{}", request.query),
            "self",
            GEOJSON,
            "this page",
        )];
        if let Some(next) = &next {
            links.push(geojson::link(next, "next", GEOJSON, "next page"));
        }
        http::with_content_type(
            200,
            GEOJSON,
            &geojson::collection(&page.points, links, None),
        )
    } else {
        http::encoded(200, http::JSON, pointquery::wire::points_json(&page.points))
    };
    Ok(match next {
        Some(next) => response.with_header("link", format!("<{next}>; rel=\"next\"")),
        None => response,
    })
}

fn fetch(request: &Request, id: i64) -> Answer {
    let Some(point) = pointquery::store::by_id(id)? else {
        return Err(no_such_point(id));
    };
    let f = request
        .query_pairs()
        .into_iter()
        .find(|(k, _)| k == "f")
        .map(|(_, v)| v);
    Ok(
        if geojson::wants_geojson(request.header("accept"), f.as_deref()) {
            http::with_content_type(200, GEOJSON, &geojson::feature(&point))
        } else {
            http::json(200, &point)
        },
    )
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
