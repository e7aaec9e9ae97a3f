//! The guide's JSON array of points, written directly.
//!
//! Byte for byte what `serde_json::to_vec(&points)` writes (a test holds
//! them together), without escaping every key at run time: a page of 100
//! points is 400-500 keys, and in the guest that escaping was a third of
//! the cost of rendering a listing.

use serde::Serialize;

use crate::store::Point;

/// `points` as a JSON array of `{"id","name","longitude","latitude"[,"distance_m"]}`.
pub fn points_json(points: &[Point]) -> Vec<u8> {
    // About 90 bytes per point with a short name.
    let mut out = Vec::with_capacity(2 + points.len() * 96);
    out.push(b'[');
    for (i, point) in points.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"id\":");
        value(&mut out, &point.id);
        out.extend_from_slice(b",\"name\":");
        value(&mut out, &point.name);
        out.extend_from_slice(b",\"longitude\":");
        value(&mut out, &point.longitude);
        out.extend_from_slice(b",\"latitude\":");
        value(&mut out, &point.latitude);
        if let Some(distance) = &point.distance_m {
            out.extend_from_slice(b",\"distance_m\":");
            value(&mut out, distance);
        }
        out.push(b'}');
    }
    out.push(b']');
    out
}

/// One scalar through serde_json, so numbers and strings are formatted and
/// escaped exactly as the derived serializer would.
fn value<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    // Writing a string or a number into a Vec cannot fail.
    let _ = serde_json::to_writer(out, value);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(id: i64, name: &str, distance_m: Option<f64>) -> Point {
        Point {
            id,
            name: name.to_owned(),
            longitude: -0.1276 * id as f64,
            latitude: 51.5072,
            distance_m,
        }
    }

    #[test]
    fn matches_serde_json_byte_for_byte() {
        let points = [
            point(1, "Paris", None),
            point(
                -7,
                "quote \" back\\slash\nnew line \u{1} zoë 東京",
                Some(1234.5),
            ),
            point(i64::MAX, "", Some(0.0)),
            Point {
                longitude: f64::NAN,
                latitude: 1e-300,
                ..point(3, "edge", Some(f64::INFINITY))
            },
        ];
        for n in 0..=points.len() {
            assert_eq!(
                String::from_utf8(points_json(&points[..n])).unwrap(),
                serde_json::to_string(&points[..n]).unwrap()
            );
        }
    }
}
