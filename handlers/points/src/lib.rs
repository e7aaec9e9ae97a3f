//! The points API of the original Flask guide, as a geofn handler component,
//! grown into a spatial API. Its routes, limits and table (migrations) are
//! in `geofn-handler.toml`, embedded in the component with its part of the
//! service's OpenAPI document (`build.rs`, from `src/openapi.rs`).
//!
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

mod bounds;
mod input;
mod store;

use geofn_guest::http;
use geofn_guest::prelude::*;
use pointquery::geojson::{self, GEOJSON};
use pointquery::{Cursor, filter};

use bounds::LIMITS;

fn create(ctx: &Ctx) -> Result<Response> {
    let created = store::insert(&input::new_point(&ctx.request)?)?;
    Ok(http::encoded(201, http::JSON, created.body)
        .with_header("location", format!("/points/{}", created.id)))
}

fn list(ctx: &Ctx) -> Result<Response> {
    let pairs = ctx.query_pairs();
    let f = geojson::format(pairs)?;
    let query = filter::parse(pairs, LIMITS)?;
    let next_link = |cursor: &Cursor| format!("/points?{}", pointquery::next_query(pairs, cursor));
    let (response, next) = if geojson::wants_geojson(ctx.header("accept"), f) {
        let page = pointquery::store::fetch(&query)?;
        let next = page.next.as_ref().map(next_link);
        let mut links = vec![geojson::link(
            &format!("/points?{}", ctx.request.query),
            "self",
            GEOJSON,
            "this page",
        )];
        if let Some(next) = &next {
            links.push(geojson::link(next, "next", GEOJSON, "next page"));
        }
        let collection = geojson::collection(&page.points, links, None);
        (http::with_content_type(200, GEOJSON, &collection), next)
    } else {
        // The guide's array needs no work in the guest: the host renders it.
        let page = pointquery::rendered::fetch(&query)?;
        let next = page.next.as_ref().map(next_link);
        (http::encoded(200, http::JSON, page.body), next)
    };
    Ok(match next {
        Some(next) => response.with_header("link", format!("<{next}>; rel=\"next\"")),
        None => response,
    })
}

fn fetch(ctx: &Ctx) -> Result<Response> {
    let id = input::point_id(ctx)?;
    let point = pointquery::store::by_id(id)?.ok_or_else(|| no_such_point(id))?;
    Ok(
        if geojson::wants_geojson(ctx.header("accept"), geojson::format(ctx.query_pairs())?) {
            http::with_content_type(200, GEOJSON, &geojson::feature(&point))
        } else {
            http::json(200, &point)
        },
    )
}

fn remove(ctx: &Ctx) -> Result<Response> {
    let id = input::point_id(ctx)?;
    if store::delete(id)? {
        Ok(http::empty(204))
    } else {
        Err(no_such_point(id))
    }
}

fn no_such_point(id: i64) -> Error {
    Error::not_found(format!("there is no point with id {id}"))
}

struct Points;

impl Guest for Points {
    fn handle(request: Request) -> Response {
        Router::new()
            .post("/point", create)
            .get("/points", list)
            .get("/points/{id}", fetch)
            .delete("/points/{id}", remove)
            .handle(request)
    }
}

geofn_guest::export_handler!(Points);
geofn_guest::handler_manifest!(include_str!("../geofn-handler.toml"));
geofn_guest::handler_openapi!(include_str!(concat!(env!("OUT_DIR"), "/openapi.json")));
