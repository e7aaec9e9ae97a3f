//! How clients call the listings this crate parses, in OpenAPI 3.0: the
//! handlers serving them generate their part of the service's `/api` from
//! these in their build scripts (`handler_openapi!`), so the document and
//! the parser live side by side and say the same bounds.
//!
//! Where OpenAPI 3.0 cannot say a rule (one parameter needing another,
//! a bbox's latitudes in order), the parameter's description does.

use serde_json::{Value, json};

use crate::filter::{Limits, MAX_RADIUS_M};

/// An RFC 3339 full-date or date-time, as `datetime` accepts them (days
/// 29–31 left out: a pattern cannot know the month's length).
const INSTANT: &str = "[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])\
     (T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,6})?(Z|[+-](0[0-9]|1[0-3]):[0-5][0-9]))?";

/// `datetime`: empty, an instant, or an interval with one end open (`..`
/// or empty) at most.
pub fn datetime_pattern() -> String {
    format!("^(|{INSTANT}|{INSTANT}/({INSTANT}|\\.\\.|)|(\\.\\.|)/{INSTANT})$")
}

/// A point as the points API answers it.
pub fn point_schema() -> Value {
    json!({
        "type": "object",
        "required": ["id", "name", "longitude", "latitude"],
        "properties": {
            "id": { "type": "integer", "minimum": 1 },
            "name": { "type": "string" },
            "longitude": { "type": "number", "minimum": -180, "maximum": 180 },
            "latitude": { "type": "number", "minimum": -90, "maximum": 90 },
            "distance_m": { "type": "number", "minimum": 0,
                "description": "Metres from near, in a radius query" },
        },
    })
}

/// `bbox`, in longitude and latitude (the points API's, and OGC's default
/// `bbox-crs`).
pub fn bbox(description: &str) -> Value {
    json!({ "name": "bbox", "in": "query", "required": false, "style": "form", "explode": false,
        "description": format!("{description} Latitudes within ±90, minLat ≤ maxLat; \
            minLon > maxLon crosses the antimeridian."),
        "schema": { "type": "array", "minItems": 4, "maxItems": 4,
            "items": { "type": "number", "minimum": -180, "maximum": 180 } } })
}

/// `datetime`, over creation time.
pub fn datetime() -> Value {
    json!({ "name": "datetime", "in": "query", "required": false,
        "description": "Creation time: an RFC 3339 date or date-time, or an interval start/end \
            whose open end is .. or empty. Empty: no time filter.",
        "schema": { "type": "string", "pattern": datetime_pattern() } })
}

/// `limit`, with this listing's bounds.
pub fn limit(limits: Limits) -> Value {
    json!({ "name": "limit", "in": "query", "required": false,
        "schema": { "type": "integer", "minimum": 1, "maximum": limits.max, "default": limits.default } })
}

/// `cursor`: opaque, from a `next` link.
pub fn cursor() -> Value {
    json!({ "name": "cursor", "in": "query", "required": false,
        "description": "Opaque position of the next page: follow the next link as given; \
            any other value is refused.",
        "schema": { "type": "string" } })
}

/// `near` and `radius`, which go together.
pub fn near_and_radius() -> [Value; 2] {
    [
        json!({ "name": "near", "in": "query", "required": false, "style": "form", "explode": false,
            "description": "lon,lat of a radius query, nearest first: latitude within ±90; needs radius.",
            "schema": { "type": "array", "minItems": 2, "maxItems": 2,
                "items": { "type": "number", "minimum": -180, "maximum": 180 } } }),
        json!({ "name": "radius", "in": "query", "required": false,
            "description": "Metres around near (geography distance); needs near.",
            "schema": { "type": "number", "exclusiveMinimum": true, "minimum": 0, "maximum": MAX_RADIUS_M } }),
    ]
}

/// `f`: JSON, or GeoJSON.
pub fn format() -> Value {
    json!({ "name": "f", "in": "query", "required": false,
        "description": "Encoding: json, or geojson (as Accept: application/geo+json).",
        "schema": { "type": "string", "enum": ["json", "geojson"] } })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datetime::parse_datetime;

    /// The pattern as clients and test generators read it, against the
    /// parser: a schema-valid `datetime` is never refused.
    #[test]
    fn what_the_datetime_pattern_admits_the_parser_accepts() {
        let pattern = regex::Regex::new(&datetime_pattern()).unwrap();
        for text in [
            "",
            "2026-11-26",
            "2026-02-28T23:59:59Z",
            "0001-01-01T00:00:00.123456+13:59",
            "9999-12-28T23:59:59-13:59",
            "2026-11-26/..",
            "../2026-11-26T18:00:00-05:00",
            "/2026-11-26",
            "2026-11-26/",
            "2026-01-01/2026-12-28T00:00:00Z",
        ] {
            assert!(pattern.is_match(text), "{text} should match");
            if !text.is_empty() {
                parse_datetime(text).unwrap_or_else(|e| panic!("{text}: {e:?}"));
            }
        }
        for text in [
            "../..",
            "/",
            "2026-02-30",
            "yesterday",
            "2026-11-26T25:00:00Z",
        ] {
            assert!(!pattern.is_match(text), "{text} should not match");
        }
    }
}
