//! The OpenAPI 3.0 definition of this API (`/api`, the landing page's
//! `service-desc`). Clients read parameter bounds from it: GDAL, for one,
//! takes `limit`'s maximum as its page size.

use geofn_guest::cql2::{QUERYABLES_MEDIA_TYPE, Type};
use geofn_guest::crs::Crs;
use pointquery::queryables::POINTS;
use serde_json::{Value, json};

use crate::{COLLECTION, LIMITS};
use geofn_guest::base::Base;

/// Media type of an OpenAPI 3.0 JSON document.
pub const MEDIA_TYPE: &str = "application/vnd.oai.openapi+json;version=3.0";

/// The document, with this server's own URL.
pub fn document(base: &Base) -> Value {
    let json_response = |description: &str| json!({ "description": description, "content": { "application/json": {} } });
    let geojson_response = |description: &str| json!({ "description": description, "content": { "application/geo+json": {} } });
    let problem = json!({
        "description": "A problem document (RFC 9457)",
        "content": { "application/problem+json": {} },
    });
    let get = |id: &str, summary: &str, parameters: Value, ok: Value| {
        json!({ "get": {
            "operationId": id,
            "summary": summary,
            "parameters": parameters,
            "responses": { "200": ok, "400": problem, "404": problem, "500": problem, "503": problem },
        }})
    };
    let f = json!({ "name": "f", "in": "query", "required": false,
        "description": "Encoding; json (GeoJSON for features) is the only one.",
        "schema": { "type": "string", "enum": ["json", "geojson"] } });
    let collection_id = json!({ "name": "collectionId", "in": "path", "required": true,
        "schema": { "type": "string", "enum": [COLLECTION] } });
    let feature_id = json!({ "name": "featureId", "in": "path", "required": true,
        "schema": { "type": "integer", "minimum": 1 } });
    let crs_names: Vec<&str> = Crs::ALL.iter().map(|c| c.uri()).collect();
    let crs = |name: &str, description: &str| {
        json!({ "name": name, "in": "query", "required": false,
        "description": description,
        "schema": { "type": "string", "format": "uri", "enum": crs_names, "default": Crs::Crs84.uri() } })
    };
    let mut items_parameters = json!([
        collection_id,
        { "name": "bbox", "in": "query", "required": false, "style": "form", "explode": false,
          "description": "Lower and upper corners in bbox-crs (CRS84 by default: minLon,minLat,maxLon,maxLat); minLon > maxLon crosses the antimeridian.",
          "schema": { "type": "array", "minItems": 4, "maxItems": 6, "items": { "type": "number" } } },
        { "name": "datetime", "in": "query", "required": false, "style": "form", "explode": false,
          "description": "Creation time: an RFC 3339 instant, or an interval start/end with .. for open ends.",
          "schema": { "type": "string" } },
        { "name": "limit", "in": "query", "required": false, "style": "form", "explode": false,
          "schema": { "type": "integer", "minimum": 1, "maximum": LIMITS.max, "default": LIMITS.default } },
        { "name": "cursor", "in": "query", "required": false,
          "description": "Opaque position of the next page, from a next link.",
          "schema": { "type": "string" } },
        crs("crs", "CRS of the coordinates answered, in its own axis order (EPSG:4326 is latitude first)."),
        crs("bbox-crs", "CRS of bbox."),
        { "name": "filter", "in": "query", "required": false,
          "description": "A CQL2 expression over the queryables (see /collections/points/queryables).",
          "schema": { "type": "string" } },
        { "name": "filter-lang", "in": "query", "required": false,
          "schema": { "type": "string", "enum": ["cql2-text", "cql2-json"], "default": "cql2-text" } },
        crs("filter-crs", "CRS of the filter's geometry literals."),
        f,
    ]);
    if let Some(list) = items_parameters.as_array_mut() {
        list.extend(POINTS.iter().filter(|q| q.kind != Type::Geometry).map(|q| {
            let schema = match q.kind {
                Type::Integer => json!({ "type": "integer" }),
                Type::Number => json!({ "type": "number" }),
                Type::Boolean => json!({ "type": "boolean" }),
                Type::Timestamp => json!({ "type": "string", "format": "date-time" }),
                Type::String | Type::Geometry => json!({ "type": "string" }),
            };
            json!({ "name": q.name, "in": "query", "required": false, "style": "form",
                "explode": false, "description": format!("Only features whose {} equals this.", q.name),
                "schema": schema })
        }));
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "geofn points — OGC API - Features",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Points stored in PostGIS, served by geofn handler components.",
        },
        "servers": [{ "url": base.url("") }],
        "paths": {
            "/": get("getLandingPage", "Landing page", json!([f]), json_response("Landing page")),
            "/conformance": get("getConformance", "Conformance classes", json!([f]), json_response("Conformance classes")),
            "/api": get("getApi", "This document", json!([]), json!({ "description": "OpenAPI 3.0", "content": { MEDIA_TYPE: {} } })),
            "/collections": get("getCollections", "Collections", json!([f]), json_response("Collections")),
            "/collections/{collectionId}": get("describeCollection", "A collection", json!([collection_id, f]), json_response("The collection")),
            "/collections/{collectionId}/queryables": get("getQueryables", "What filters may name (JSON Schema)", json!([collection_id, f]), json!({ "description": "The queryables", "content": { QUERYABLES_MEDIA_TYPE: {} } })),
            "/collections/{collectionId}/items": get("getFeatures", "Features of a collection", items_parameters, geojson_response("A FeatureCollection")),
            "/collections/{collectionId}/items/{featureId}": get("getFeature", "One feature", json!([collection_id, feature_id, crs("crs", "CRS of the coordinates answered."), f]), geojson_response("A Feature")),
        },
    })
}
