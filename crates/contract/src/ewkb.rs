//! EWKB, PostGIS's extended well-known binary: how every geometry crosses
//! the boundary. The header (byte order, type word with the Z, M and SRID
//! flags, optional SRID) is read the same way on both sides; points, the
//! geometry nearly every row carries, are written and read here without a
//! general decoder.

/// Type-word flag: the geometry has Z ordinates.
pub const Z_FLAG: u32 = 0x8000_0000;
/// Type-word flag: the geometry has M ordinates.
pub const M_FLAG: u32 = 0x4000_0000;
/// Type-word flag: an SRID follows the type word.
pub const SRID_FLAG: u32 = 0x2000_0000;
/// The bits of the type word that are the OGC type code.
pub const TYPE_MASK: u32 = 0x0fff_ffff;
/// SRID of WGS 84 longitude/latitude.
pub const WGS84: i32 = 4326;

/// OGC geometry type codes.
pub mod code {
    /// Point.
    pub const POINT: u32 = 1;
    /// LineString.
    pub const LINE_STRING: u32 = 2;
    /// Polygon.
    pub const POLYGON: u32 = 3;
    /// MultiPoint.
    pub const MULTI_POINT: u32 = 4;
    /// MultiLineString.
    pub const MULTI_LINE_STRING: u32 = 5;
    /// MultiPolygon.
    pub const MULTI_POLYGON: u32 = 6;
    /// GeometryCollection.
    pub const GEOMETRY_COLLECTION: u32 = 7;
}

/// One EWKB header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Byte order of what follows.
    pub little_endian: bool,
    /// OGC type code (see [`code`]).
    pub code: u32,
    /// Z ordinates present.
    pub z: bool,
    /// M ordinates present.
    pub m: bool,
    /// The SRID, when the header carries one.
    pub srid: Option<i32>,
    /// Bytes the header takes: 5, or 9 with an SRID.
    pub len: usize,
}

impl Header {
    /// Reads the header at the start of `bytes`.
    pub fn read(bytes: &[u8]) -> Result<Self, String> {
        let (&order, rest) = bytes.split_first().ok_or("EWKB ends inside a header")?;
        let little_endian = match order {
            0 => false,
            1 => true,
            other => {
                return Err(format!(
                    "EWKB byte-order marker must be 0 or 1, got {other}"
                ));
            }
        };
        let word = read_u32(rest, 0, little_endian).ok_or("EWKB ends inside a header")?;
        let (srid, len) = if word & SRID_FLAG != 0 {
            let srid = read_u32(rest, 4, little_endian).ok_or("EWKB ends inside its SRID")?;
            (Some(srid as i32), 9)
        } else {
            (None, 5)
        };
        Ok(Self {
            little_endian,
            code: word & TYPE_MASK,
            z: word & Z_FLAG != 0,
            m: word & M_FLAG != 0,
            srid,
            len,
        })
    }

    /// Ordinates per coordinate: 2, 3 or 4.
    pub fn dimensions(&self) -> usize {
        2 + usize::from(self.z) + usize::from(self.m)
    }
}

/// The `u32` at `at` in `bytes`, in the given byte order.
pub fn read_u32(bytes: &[u8], at: usize, little_endian: bool) -> Option<u32> {
    let word: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
    Some(if little_endian {
        u32::from_le_bytes(word)
    } else {
        u32::from_be_bytes(word)
    })
}

/// A 2D point with an SRID, little-endian: 25 bytes.
pub fn point(x: f64, y: f64, srid: i32) -> Vec<u8> {
    let mut out = Vec::with_capacity(25);
    out.push(1);
    out.extend_from_slice(&(code::POINT | SRID_FLAG).to_le_bytes());
    out.extend_from_slice(&srid.to_le_bytes());
    out.extend_from_slice(&x.to_le_bytes());
    out.extend_from_slice(&y.to_le_bytes());
    out
}

/// The x and y of an EWKB point (any Z or M ordinate ignored); `None` for
/// anything that is not exactly one point.
pub fn point_xy(bytes: &[u8]) -> Option<(f64, f64)> {
    let header = Header::read(bytes).ok()?;
    if header.code != code::POINT || bytes.len() != header.len + 8 * header.dimensions() {
        return None;
    }
    let double = |at: usize| -> Option<f64> {
        let b: [u8; 8] = bytes.get(at..at + 8)?.try_into().ok()?;
        Some(if header.little_endian {
            f64::from_le_bytes(b)
        } else {
            f64::from_be_bytes(b)
        })
    };
    Some((double(header.len)?, double(header.len + 8)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_round_trip() {
        let bytes = point(2.3522, 48.8566, WGS84);
        assert_eq!(bytes.len(), 25);
        assert_eq!(point_xy(&bytes), Some((2.3522, 48.8566)));
        let header = Header::read(&bytes).unwrap();
        assert_eq!(
            (header.code, header.srid, header.len),
            (code::POINT, Some(WGS84), 9)
        );
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
    fn lines_and_garbage_are_not_points() {
        let mut line = point(1.0, 2.0, WGS84);
        line[1] = 2;
        assert_eq!(point_xy(&line), None);
        assert_eq!(point_xy(&[1, 2, 3]), None);
        assert!(Header::read(&[7, 1, 0, 0, 0]).is_err());
    }
}
