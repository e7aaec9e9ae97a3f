//! OGC API – Features Part 1 over the points table, so QGIS, GDAL (`OAPIF:`)
//! and other OGC clients read the points as a feature collection.
//!
//! Conformance classes: Core, GeoJSON, OpenAPI 3.0. Routes (see
//! `handlers/geofn.toml`):
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

use geofn_guest::http::{self, Problem};
use geofn_guest::{Guest, Request, Response};
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

struct Features;

impl Guest for Features {
    fn handle(request: Request) -> Response {
        answer(&request).unwrap_or_else(|response| response)
    }
}

type Answer = Result<Response, Response>;

fn answer(request: &Request) -> Answer {
    let pairs = request.query_pairs();
    check_format(&pairs)?;
    let base = Base::of(request);
    let segments = request.segments();
    match segments.as_slice() {
        [""] => Ok(http::json(200, &documents::landing(&base))),
        ["conformance"] => Ok(http::json(200, &documents::conformance())),
        ["api"] => Ok(http::with_content_type(
            200,
            openapi::MEDIA_TYPE,
            &openapi::document(&base),
        )),
        ["collections"] => Ok(http::json(200, &documents::collections(&base)?)),
        ["collections", COLLECTION] => Ok(http::json(200, &documents::collection(&base)?)),
        ["collections", COLLECTION, "items"] => items(request, &base, &pairs),
        ["collections", COLLECTION, "items", id] => item(&base, id),
        ["collections", other, ..] => Err(Problem::not_found(format!(
            "there is no collection {other:?}; the one collection is {COLLECTION:?}"
        ))
        .into_response()),
        _ => Err(
            Problem::not_found(format!("{} is not a resource of this API", request.path))
                .into_response(),
        ),
    }
}

/// `f` selects the encoding; JSON (GeoJSON for features) is the only one.
fn check_format(pairs: &[(String, String)]) -> Result<(), Response> {
    match filter::single(pairs, "f").map_err(Problem::into_response)? {
        None | Some("json" | "geojson") => Ok(()),
        Some(other) => Err(Problem::bad_parameter(
            "f",
            format!("f={other} is not offered; this API speaks json (GeoJSON for features)"),
        )
        .into_response()),
    }
}

fn items(request: &Request, base: &Base, pairs: &[(String, String)]) -> Answer {
    if let Some((unknown, _)) = pairs
        .iter()
        .find(|(k, _)| !ITEMS_PARAMETERS.contains(&k.as_str()))
    {
        return Err(Problem::bad_parameter(
            unknown,
            format!(
                "unknown parameter {unknown:?}; items take {}",
                ITEMS_PARAMETERS.join(", ")
            ),
        )
        .into_response());
    }
    let query = filter::parse(pairs, LIMITS).map_err(Problem::into_response)?;
    let page = pointquery::store::fetch(&query)?;
    let matched = pointquery::store::count(&query)?;
    let items_url = base.url(&format!("/collections/{COLLECTION}/items"));
    let this_page = if request.query.is_empty() {
        items_url.clone()
    } else {
        format!("{items_url}?{}", request.query)
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
    let mut body = geojson::collection(&page.points, links, Some(matched));
    body["timeStamp"] = json!(documents::now_rfc3339()?);
    Ok(http::with_content_type(200, GEOJSON, &body))
}

fn item(base: &Base, raw_id: &str) -> Answer {
    let missing = || {
        Problem::not_found(format!("there is no feature {raw_id:?} in {COLLECTION}"))
            .into_response()
    };
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

geofn_guest::export_handler!(Features);
