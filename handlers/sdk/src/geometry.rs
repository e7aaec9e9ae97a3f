//! EWKB points: what `db::Value::Geometry` carries for point columns.
//!
//! Encoding and decoding go through the `postgis` crate, the same one the host
//! uses to hand geometries to PostgreSQL, so both sides agree on the format.

use postgis::ewkb::{self, AsEwkbPoint, EwkbRead, EwkbWrite};

/// SRID of WGS 84 longitude/latitude, the only CRS the points API speaks.
pub const WGS84: i32 = 4326;

/// A 2D point in EWKB with the given SRID.
pub fn point_ewkb(x: f64, y: f64, srid: i32) -> Vec<u8> {
    let point = ewkb::Point::new(x, y, Some(srid));
    let mut out = Vec::with_capacity(25);
    // Writing into a Vec cannot fail.
    let _ = point.as_ewkb().write_ewkb(&mut out);
    out
}

/// The x and y of an EWKB point; `None` for anything that is not a point.
pub fn point_xy(ewkb: &[u8]) -> Option<(f64, f64)> {
    match ewkb::GeometryT::<ewkb::Point>::read_ewkb(&mut &ewkb[..]).ok()? {
        ewkb::GeometryT::Point(p) => Some((p.x, p.y)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn point_round_trips() {
        let bytes = point_ewkb(2.3522, 48.8566, WGS84);
        assert_eq!(bytes.len(), 25, "byte order + type + srid + 2 doubles");
        assert_eq!(point_xy(&bytes), Some((2.3522, 48.8566)));
    }

    #[test]
    fn garbage_is_not_a_point() {
        assert_eq!(point_xy(&[1, 2, 3]), None);
    }
}
