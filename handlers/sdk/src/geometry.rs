//! EWKB points: what `db::Value::Geometry` carries for point columns.
//!
//! Encoding goes through the `postgis` crate, the same one the host uses to
//! check geometries before PostgreSQL, so both sides agree on the format.

use postgis::ewkb::{self, AsEwkbPoint, EwkbWrite};

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

/// EWKB type-word flags: Z ordinate, M ordinate, SRID follows.
const EWKB_Z: u32 = 0x8000_0000;
const EWKB_M: u32 = 0x4000_0000;
const EWKB_SRID: u32 = 0x2000_0000;
/// The OGC type code of a point.
const WKB_POINT: u32 = 1;

/// The x and y of an EWKB point (any Z or M ordinate ignored); `None` for
/// anything that is not exactly one point.
///
/// Read directly rather than through the `postgis` crate's generic decoder:
/// listings call it once per row, and it is one header and two doubles.
pub fn point_xy(ewkb: &[u8]) -> Option<(f64, f64)> {
    let (&order, rest) = ewkb.split_first()?;
    let little = match order {
        0 => false,
        1 => true,
        _ => return None,
    };
    let word = |at: usize| -> Option<[u8; 4]> { rest.get(at..at + 4)?.try_into().ok() };
    let double = |at: usize| -> Option<f64> {
        let bytes: [u8; 8] = rest.get(at..at + 8)?.try_into().ok()?;
        Some(if little {
            f64::from_le_bytes(bytes)
        } else {
            f64::from_be_bytes(bytes)
        })
    };
    let type_word = word(0).map(|w| {
        if little {
            u32::from_le_bytes(w)
        } else {
            u32::from_be_bytes(w)
        }
    })?;
    if type_word & 0x0fff_ffff != WKB_POINT {
        return None;
    }
    let start = if type_word & EWKB_SRID != 0 { 8 } else { 4 };
    let dims = 2 + usize::from(type_word & EWKB_Z != 0) + usize::from(type_word & EWKB_M != 0);
    if rest.len() != start + 8 * dims {
        return None;
    }
    Some((double(start)?, double(start + 8)?))
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
    fn big_endian_and_z_points_are_read() {
        let mut be = vec![0, 0xa0, 0, 0, 1, 0, 0, 0x10, 0xe6];
        be.extend_from_slice(&1.5f64.to_be_bytes());
        be.extend_from_slice(&(-2.0f64).to_be_bytes());
        be.extend_from_slice(&9.0f64.to_be_bytes());
        assert_eq!(point_xy(&be), Some((1.5, -2.0)));
        assert_eq!(point_xy(&be[..be.len() - 1]), None, "truncated");
    }

    #[test]
    fn lines_are_not_points() {
        let mut line = point_ewkb(1.0, 2.0, WGS84);
        line[1] = 2;
        assert_eq!(point_xy(&line), None);
    }

    #[test]
    fn garbage_is_not_a_point() {
        assert_eq!(point_xy(&[1, 2, 3]), None);
    }
}
