//! OGC API – Features Part 1 over the points table, so QGIS, GDAL (`OAPIF:`)
//! and other OGC clients read the points as a feature collection.
//!
//! Conformance classes: Core, GeoJSON, OpenAPI 3.0. Routes (see
//! `geofn-handler.toml`, embedded in the component):
//! - `/` landing page, `/conformance`, `/api` (OpenAPI 3.0, the `service-desc`)
//! - `/collections`, `/collections/points`
//! - `/collections/points/items` (`bbox`, `datetime`, `limit`, keyset `next` links)
//! - `/collections/points/items/{featureId}`
//!
//! Listings, filters and GeoJSON come from `pointquery`, shared with the
//! points API, so both answer the same question the same way.

mod base;
mod documents;
mod openapi;

use geofn_guest::http;
use geofn_guest::prelude::*;
use pointquery::filter::{self, Limits};
use pointquery::geojson::{self, GEOJSON};
use serde_json::json;

use base::Base;

/// The one collection this API serves.
pub const COLLECTION: &str = "points";
/// `limit` of item listings: OGC's example default, and the points API's maximum.
pub const LIMITS: Limits = Limits {
    default: 10,
    max: 10_000,
};
/// Query parameters the item listing understands; others are a 400 (/req/core/query-param-unknown).
const ITEMS_PARAMETERS: &[&str] = &["bbox", "datetime", "limit", "cursor", "f"];

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

fn items(ctx: &Ctx) -> Result<Response> {
    let base = base(ctx)?;
    collection(ctx)?;
    let pairs = ctx.query_pairs();
    if let Some((unknown, _)) = pairs
        .iter()
        .find(|(k, _)| !ITEMS_PARAMETERS.contains(&k.as_str()))
    {
        return Err(Error::bad_parameter(
            unknown,
            format!(
                "unknown parameter {unknown:?}; items take {}",
                ITEMS_PARAMETERS.join(", ")
            ),
        ));
    }
    let query = filter::parse(pairs, LIMITS)?;
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
    let mut body = geojson::collection(&page.points, links, matched);
    body["timeStamp"] = json!(documents::now_rfc3339()?);
    Ok(http::with_content_type(200, GEOJSON, &body))
}

fn item(ctx: &Ctx) -> Result<Response> {
    let base = base(ctx)?;
    collection(ctx)?;
    let raw_id: String = ctx.param("feature")?;
    let missing = || Error::not_found(format!("there is no feature {raw_id:?} in {COLLECTION}"));
    let id = raw_id.parse::<i64>().map_err(|_| missing())?;
    let point = pointquery::store::by_id(id)?.ok_or_else(missing)?;
    let mut feature = geojson::feature(&point);
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
    Ok(http::with_content_type(200, GEOJSON, &feature))
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
            .get("/collections/{collection}/items", items)
            .get("/collections/{collection}/items/{feature}", item)
            .handle(request)
    }
}

geofn_guest::export_handler!(Features);
geofn_guest::handler_manifest!(include_str!("../geofn-handler.toml"));
