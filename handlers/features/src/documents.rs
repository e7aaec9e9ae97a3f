//! The JSON documents of OGC API – Features that are not feature listings.

use geofn_guest::cql2;
use geofn_guest::crs::{CRS84, Crs};
use geofn_guest::db::{self, Value};
use geofn_guest::error::Result;
use serde_json::{Value as Json, json};

use crate::COLLECTION;
use geofn_guest::base::Base;

/// The service's OpenAPI document (the host serves it at `/api`).
const OPENAPI: &str = "application/vnd.oai.openapi+json;version=3.0";
/// Part 1's classes, and Part 2's (coordinates in the CRS asked for).
const FEATURES_CONFORMANCE: &[&str] = &[
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
];
/// OGC API – Tiles, answered by the tiles handler shipped beside this one
/// (`handlers/tiles`): vector tilesets of each collection.
const TILES_CONFORMANCE: &[&str] = &[
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tileset",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tilesets-list",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/geodata-tilesets",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt",
];
/// Extent reported while PostgreSQL has no statistics for the table yet.
const WHOLE_WORLD: [f64; 4] = [-180.0, -90.0, 180.0, 90.0];

/// `/`
pub fn landing(base: &Base) -> Json {
    json!({
        "title": "geofn points",
        "description": "Points stored in PostGIS, served by geofn handler components.",
        "links": [
            link(base, "/", "self", "application/json", "this document"),
            link(base, "/api", "service-desc", OPENAPI, "the API definition"),
            link(base, "/conformance", "conformance", "application/json", "conformance classes"),
            link(base, "/collections", "data", "application/json", "the collections"),
        ],
    })
}

/// `/conformance`
pub fn conformance() -> Json {
    let classes: Vec<&str> = FEATURES_CONFORMANCE
        .iter()
        .chain(cql2::CONFORMANCE)
        .chain(TILES_CONFORMANCE)
        .copied()
        .collect();
    json!({ "conformsTo": classes })
}

/// `/collections`
pub fn collections(base: &Base) -> Result<Json> {
    Ok(json!({
        "links": [link(base, "/collections", "self", "application/json", "the collections")],
        "collections": [collection(base)?],
    }))
}

/// `/collections/points`
pub fn collection(base: &Base) -> Result<Json> {
    let path = format!("/collections/{COLLECTION}");
    Ok(json!({
        "id": COLLECTION,
        "title": "Points",
        "description": "Named points, as POST /point stores them.",
        "itemType": "feature",
        "crs": Crs::ALL.iter().map(|c| c.uri()).collect::<Vec<_>>(),
        "storageCrs": CRS84,
        "extent": { "spatial": { "bbox": [extent()?], "crs": CRS84 } },
        "links": [
            link(base, &path, "self", "application/json", "this collection"),
            link(base, &format!("{path}/items"), "items", "application/geo+json", "the points"),
            link(base, &format!("{path}/queryables"), cql2::QUERYABLES_REL,
                cql2::QUERYABLES_MEDIA_TYPE, "what filters may name"),
            link(base, &format!("{path}/tiles"), "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector",
                "application/json", "vector tiles of the points"),
        ],
    }))
}

/// The table's bounding box (the points handler's schema and table) from
/// PostgreSQL's statistics (instant even on
/// millions of rows); the whole world until statistics exist.
fn extent() -> Result<[f64; 4]> {
    const SQL: &str = "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) \
                       FROM (SELECT ST_EstimatedExtent('points', 'points', 'geom')::box3d AS e) AS s";
    let Ok(rows) = db::query(SQL, &[]) else {
        // Older PostGIS raise instead of returning NULL without statistics.
        return Ok(WHOLE_WORLD);
    };
    let numbers: Vec<f64> = rows
        .rows
        .first()
        .map(|row| {
            row.iter()
                .filter_map(|v| match v {
                    Value::Float(f) => Some(*f),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(match numbers[..] {
        [a, b, c, d] => [a, b, c, d],
        _ => WHOLE_WORLD,
    })
}

/// The current time in RFC 3339, for `timeStamp`.
pub fn now_rfc3339() -> Result<String> {
    Ok(jiff::Timestamp::now().to_string())
}

/// A weak validator for a page taken before its `timeStamp` is stamped: the
/// host would hash the stamped bytes, which change every second, and no
/// client could ever revalidate. The same points give the same tag on every
/// replica running this component (SipHash with fixed keys).
pub fn page_tag(page: &Json) -> String {
    use std::hash::{DefaultHasher, Hasher};
    let mut hasher = DefaultHasher::new();
    hasher.write(page.to_string().as_bytes());
    format!("W/\"page-{:016x}\"", hasher.finish())
}

fn link(base: &Base, path: &str, rel: &str, media_type: &str, title: &str) -> Json {
    pointquery::geojson::link(&base.url(path), rel, media_type, title)
}
