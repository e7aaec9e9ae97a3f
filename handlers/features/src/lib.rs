//! OGC API – Features Part 1 over the points table, so QGIS, GDAL (`OAPIF:`)
//! and other OGC clients read the points as a feature collection.
//!
//! Conformance classes: Part 1 (Core, GeoJSON, OpenAPI 3.0), Part 2 (CRS
//! by reference: CRS84, EPSG:4326, EPSG:3857) and Part 3 with CQL2
//! (filters over the queryables; see `geofn_guest::cql2`). Routes (see
//! `geofn-handler.toml`, embedded in the component):
//! - `/` landing page, `/conformance`, `/api` (OpenAPI 3.0, the `service-desc`)
//! - `/collections`, `/collections/points`, `/collections/points/queryables`
//! - `/collections/points/items` (`bbox`, `bbox-crs`, `datetime`, `filter`,
//!   `filter-lang`, `filter-crs`, queryables, `crs`, `limit`, keyset `next` links)
//! - `/collections/points/items/{featureId}` (`crs`)
//!
//! Listings, filters and GeoJSON come from `pointquery`, shared with the
//! points API, so both answer the same question the same way.

mod documents;
mod openapi;
mod request;

use geofn_guest::cql2;
use geofn_guest::crs::Crs;
use geofn_guest::http;
use geofn_guest::prelude::*;
use pointquery::filter::Limits;
use pointquery::geojson::{self, GEOJSON};
use serde_json::json;

use geofn_guest::base::Base;

/// The one collection this API serves.
pub const COLLECTION: &str = "points";
/// `limit` of item listings: OGC's example default, and the points API's maximum.
pub const LIMITS: Limits = Limits {
    default: 10,
    max: 10_000,
};

/// The collection of the route: the one there is, else a 404.
fn collection(ctx: &Ctx) -> Result<()> {
    let name: String = ctx.param("collection")?;
    if name == COLLECTION {
        Ok(())
    } else {
        Err(Error::not_found(format!(
            "there is no collection {name:?}; the one collection is {COLLECTION:?}"
        )))
    }
}

/// The context's absolute base, after checking `f` (every route takes it).
fn base(ctx: &Ctx) -> Result<Base> {
    geojson::format(ctx.query_pairs())?;
    Ok(Base::of(&ctx.request))
}

fn landing(ctx: &Ctx) -> Result<Response> {
    Ok(http::json(200, &documents::landing(&base(ctx)?)))
}

fn conformance(ctx: &Ctx) -> Result<Response> {
    base(ctx)?;
    Ok(http::json(200, &documents::conformance()))
}

fn api(ctx: &Ctx) -> Result<Response> {
    Ok(http::with_content_type(
        200,
        openapi::MEDIA_TYPE,
        &openapi::document(&base(ctx)?),
    ))
}

fn collections(ctx: &Ctx) -> Result<Response> {
    Ok(http::json(200, &documents::collections(&base(ctx)?)?))
}

fn the_collection(ctx: &Ctx) -> Result<Response> {
    let base = base(ctx)?;
    collection(ctx)?;
    Ok(http::json(200, &documents::collection(&base)?))
}

fn queryables(ctx: &Ctx) -> Result<Response> {
    let base = base(ctx)?;
    collection(ctx)?;
    let id = base.url(&format!("/collections/{COLLECTION}/queryables"));
    let schema = cql2::queryables_schema(&id, "Points", pointquery::queryables::POINTS);
    Ok(http::with_content_type(
        200,
        cql2::QUERYABLES_MEDIA_TYPE,
        &schema,
    ))
}

/// GeoJSON in `crs`, saying so (Part 2's `Content-Crs`).
fn features(body: &serde_json::Value, crs: Crs) -> Response {
    http::with_content_type(200, GEOJSON, body).with_header("content-crs", crs.header())
}

fn items(ctx: &Ctx) -> Result<Response> {
    let base = base(ctx)?;
    collection(ctx)?;
    let pairs = ctx.query_pairs();
    let (query, crs) = request::items(pairs)?;
    let page = pointquery::store::fetch(&query)?;
    let matched = pointquery::matched::number_matched(&query, &page)?;
    let items_url = base.url(&format!("/collections/{COLLECTION}/items"));
    let this_page = if ctx.request.query.is_empty() {
        items_url.clone()
    } else {
        format!("{items_url}?{}", ctx.request.query)
    };
    let mut links = vec![
        geojson::link(&this_page, "self", GEOJSON, "this page"),
        geojson::link(
            &base.url(&format!("/collections/{COLLECTION}")),
            "collection",
            "application/json",
            "the points collection",
        ),
    ];
    if let Some(cursor) = page.next {
        let next = format!("{items_url}?{}", pointquery::next_query(pairs, &cursor));
        links.push(geojson::link(&next, "next", GEOJSON, "next page"));
    }
    let mut body = geojson::collection_in(&page.points, links, matched, crs);
    let tag = documents::page_tag(&body);
    body["timeStamp"] = json!(documents::now_rfc3339()?);
    Ok(features(&body, crs).with_header("etag", &tag))
}

fn item(ctx: &Ctx) -> Result<Response> {
    let base = base(ctx)?;
    collection(ctx)?;
    let crs = request::answer_crs(ctx.query_pairs())?;
    let raw_id: String = ctx.param("feature")?;
    let missing = || Error::not_found(format!("there is no feature {raw_id:?} in {COLLECTION}"));
    let id = raw_id.parse::<i64>().map_err(|_| missing())?;
    let point = pointquery::store::by_id(id)?.ok_or_else(missing)?;
    let mut feature = geojson::feature_in(&point, crs);
    feature["links"] = json!([
        geojson::link(
            &base.url(&format!("/collections/{COLLECTION}/items/{id}")),
            "self",
            GEOJSON,
            "this feature"
        ),
        geojson::link(
            &base.url(&format!("/collections/{COLLECTION}")),
            "collection",
            "application/json",
            "the points collection"
        ),
    ]);
    Ok(features(&feature, crs))
}

struct Features;

impl Guest for Features {
    fn handle(request: Request) -> Response {
        Router::new()
            .get("/", landing)
            .get("/conformance", conformance)
            .get("/api", api)
            .get("/collections", collections)
            .get("/collections/{collection}", the_collection)
            .get("/collections/{collection}/queryables", queryables)
            .get("/collections/{collection}/items", items)
            .get("/collections/{collection}/items/{feature}", item)
            .handle(request)
    }
}

geofn_guest::export_handler!(Features);
geofn_guest::handler_manifest!(include_str!("../geofn-handler.toml"));
