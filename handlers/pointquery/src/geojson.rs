//! GeoJSON (RFC 7946) renderings of points, as the points API's
//! `application/geo+json` answers and OGC API – Features items.

use geofn_guest::crs::Crs;
use geofn_guest::http::Problem;
use serde_json::{Value, json};

use crate::store::Point;

/// Media type of GeoJSON.
pub const GEOJSON: &str = "application/geo+json";

/// A point as a Feature; the id is the feature id, the name a property.
pub fn feature(point: &Point) -> Value {
    feature_in(point, Crs::Crs84)
}

/// A point as a Feature with its coordinates in `crs`, in that CRS's axis
/// order (OGC API – Features Part 2; the answer says which in `Content-Crs`).
pub fn feature_in(point: &Point, crs: Crs) -> Value {
    let (a, b) = crs.from_lon_lat(point.longitude, point.latitude);
    let mut properties = json!({ "name": point.name });
    if let Some(distance) = point.distance_m {
        properties["distance_m"] = json!(distance);
    }
    json!({
        "type": "Feature",
        "id": point.id,
        "geometry": { "type": "Point", "coordinates": [a, b] },
        "properties": properties,
    })
}

/// A link object of OGC API and the points API's GeoJSON.
pub fn link(href: &str, rel: &str, media_type: &str, title: &str) -> Value {
    json!({ "href": href, "rel": rel, "type": media_type, "title": title })
}

/// A FeatureCollection with OGC API's `numberReturned` (and `numberMatched`
/// when known) and `links`.
pub fn collection(points: &[Point], links: Vec<Value>, number_matched: Option<i64>) -> Value {
    collection_in(points, links, number_matched, Crs::Crs84)
}

/// [`collection`] with coordinates in `crs`.
pub fn collection_in(
    points: &[Point],
    links: Vec<Value>,
    number_matched: Option<i64>,
    crs: Crs,
) -> Value {
    let mut out = json!({
        "type": "FeatureCollection",
        "features": points.iter().map(|p| feature_in(p, crs)).collect::<Vec<_>>(),
        "numberReturned": points.len(),
        "links": links,
    });
    if let Some(matched) = number_matched {
        out["numberMatched"] = json!(matched);
    }
    out
}

/// The `f` parameter, which picks the encoding: `json` or `geojson`, at
/// most once; anything else is a 400 naming it.
pub fn format(pairs: &[(String, String)]) -> Result<Option<&str>, Problem> {
    match crate::filter::single(pairs, "f")? {
        f @ (None | Some("json" | "geojson")) => Ok(f),
        Some(other) => Err(Problem::bad_parameter(
            "f",
            format!("f is json or geojson, got {other:?}"),
        )),
    }
}

/// Whether a request asks for GeoJSON: `f=geojson`, or an Accept header
/// preferring `application/geo+json`.
pub fn wants_geojson(accept: Option<&str>, f: Option<&str>) -> bool {
    if let Some(f) = f {
        return f.eq_ignore_ascii_case("geojson");
    }
    accept.is_some_and(|accept| {
        accept
            .split(',')
            .filter_map(|range| {
                let mut parts = range.split(';');
                let media = parts.next()?.trim().to_ascii_lowercase();
                let q = parts
                    .filter_map(|p| p.trim().strip_prefix("q="))
                    .find_map(|q| q.parse::<f32>().ok())
                    .unwrap_or(1.0);
                Some((media, q))
            })
            .filter(|(_, q)| *q > 0.0)
            .max_by(|a, b| {
                a.1.total_cmp(&b.1)
                    .then_with(|| specificity(&a.0).cmp(&specificity(&b.0)))
            })
            .is_some_and(|(media, _)| media == GEOJSON)
    })
}

/// Exact types beat `type/*` beat `*/*` at equal quality.
fn specificity(media: &str) -> u8 {
    match media {
        "*/*" => 0,
        m if m.ends_with("/*") => 1,
        _ => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_prefers_what_the_client_prefers() {
        assert!(wants_geojson(Some("application/geo+json"), None));
        assert!(wants_geojson(
            Some("application/json;q=0.5, application/geo+json"),
            None
        ));
        assert!(!wants_geojson(
            Some("application/json, application/geo+json;q=0.8"),
            None
        ));
        assert!(!wants_geojson(Some("*/*"), None));
        assert!(!wants_geojson(None, None));
        assert!(wants_geojson(Some("application/json"), Some("geojson")));
        assert!(!wants_geojson(Some("application/geo+json"), Some("json")));
    }

    #[test]
    fn features_carry_id_coordinates_and_name() {
        let point = Point {
            id: 3,
            name: "Paris".into(),
            longitude: 2.3522,
            latitude: 48.8566,
            distance_m: None,
        };
        let collection = collection(std::slice::from_ref(&point), vec![], Some(9));
        assert_eq!(
            collection["features"][0]["geometry"]["coordinates"],
            json!([2.3522, 48.8566])
        );
        assert_eq!(collection["features"][0]["id"], 3);
        assert_eq!(collection["numberReturned"], 1);
        assert_eq!(collection["numberMatched"], 9);
        let lat_first = feature_in(&point, Crs::Epsg4326);
        assert_eq!(
            lat_first["geometry"]["coordinates"],
            json!([48.8566, 2.3522])
        );
    }
}
