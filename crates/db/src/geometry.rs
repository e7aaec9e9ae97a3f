//! Geometries a guest sends as EWKB, decoded and re-encoded by the `postgis`
//! crate so that malformed input is caught before PostgreSQL. (Geometries
//! PostgreSQL sends back are EWKB already and pass through untouched.)
//!
//! The crate types a geometry by its point dimension; [`Geometry`] picks the
//! right one from the EWKB header so Z and M ordinates survive the trip.

use std::error::Error as StdError;
use std::io::Cursor;

use bytes::BytesMut;
use postgis::ewkb::{self, AsEwkbGeometry, EwkbRead, EwkbWrite};
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};

use geofn_contract::ewkb::{Header, M_FLAG as EWKB_M, Z_FLAG as EWKB_Z};
/// Collections nested deeper than this are refused before decoding: the
/// decoder recurses per level, and a guest could otherwise send enough
/// levels to overflow the host's stack. PostGIS itself never nests deep.
const MAX_NESTING: usize = 32;

/// A PostGIS geometry of any type and dimension.
#[derive(Debug, Clone)]
pub enum Geometry {
    /// X and Y.
    Xy(ewkb::GeometryT<ewkb::Point>),
    /// X, Y and Z.
    Xyz(ewkb::GeometryT<ewkb::PointZ>),
    /// X, Y and M.
    Xym(ewkb::GeometryT<ewkb::PointM>),
    /// X, Y, Z and M.
    Xyzm(ewkb::GeometryT<ewkb::PointZM>),
}

/// Whether a PostgreSQL type carries EWKB on the wire.
pub fn is_geometry_type(ty: &Type) -> bool {
    matches!(ty.name(), "geometry" | "geography")
}

impl Geometry {
    /// Decodes EWKB; rejects truncated input, trailing bytes, nesting
    /// deeper than [`MAX_NESTING`], and parts whose Z/M flags differ from
    /// the whole (the `postgis` crate panics on those: found by fuzzing).
    pub fn from_ewkb(bytes: &[u8]) -> Result<Self, String> {
        check_structure(bytes)?;
        let (&order, rest) = bytes.split_first().ok_or_else(|| "empty EWKB".to_owned())?;
        let word: [u8; 4] = rest
            .get(..4)
            .and_then(|w| w.try_into().ok())
            .ok_or_else(|| "EWKB shorter than its header".to_owned())?;
        let type_word = match order {
            0 => u32::from_be_bytes(word),
            1 => u32::from_le_bytes(word),
            other => {
                return Err(format!(
                    "EWKB byte-order marker must be 0 or 1, got {other}"
                ));
            }
        };
        let mut cursor = Cursor::new(bytes);
        let read_err = |e: postgis::error::Error| format!("invalid EWKB: {e:?}");
        let geometry = match (type_word & EWKB_Z != 0, type_word & EWKB_M != 0) {
            (false, false) => {
                Geometry::Xy(ewkb::GeometryT::read_ewkb(&mut cursor).map_err(read_err)?)
            }
            (true, false) => {
                Geometry::Xyz(ewkb::GeometryT::read_ewkb(&mut cursor).map_err(read_err)?)
            }
            (false, true) => {
                Geometry::Xym(ewkb::GeometryT::read_ewkb(&mut cursor).map_err(read_err)?)
            }
            (true, true) => {
                Geometry::Xyzm(ewkb::GeometryT::read_ewkb(&mut cursor).map_err(read_err)?)
            }
        };
        let consumed = usize::try_from(cursor.position()).unwrap_or(usize::MAX);
        if consumed != bytes.len() {
            return Err(format!(
                "EWKB has {} trailing bytes after the geometry",
                bytes.len().saturating_sub(consumed)
            ));
        }
        Ok(geometry)
    }

    /// Encodes as little-endian EWKB.
    pub fn to_ewkb(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_to(&mut out)
            .expect("writing EWKB into a Vec cannot fail");
        out
    }

    fn write_to<W: std::io::Write>(&self, out: &mut W) -> Result<(), postgis::error::Error> {
        match self {
            Geometry::Xy(g) => g.as_ewkb().write_ewkb(out),
            Geometry::Xyz(g) => g.as_ewkb().write_ewkb(out),
            Geometry::Xym(g) => g.as_ewkb().write_ewkb(out),
            Geometry::Xyzm(g) => g.as_ewkb().write_ewkb(out),
        }
    }
}

/// Walks EWKB without decoding it: every length is checked against the
/// bytes left, every nested header against the outer dimensions and depth.
fn check_structure(bytes: &[u8]) -> Result<(), String> {
    if bytes.is_empty() {
        return Err("empty EWKB".into());
    }
    let mut at = 0;
    let dims = header(bytes, &mut at, None)?;
    let mut reader = Walker { bytes, at };
    reader.body(dims, 0)
}

/// Z and M flags and the geometry type code of one EWKB header.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Dims {
    z: bool,
    m: bool,
    code: u32,
    little_endian: bool,
}

fn header(bytes: &[u8], at: &mut usize, expected: Option<(bool, bool)>) -> Result<Dims, String> {
    let header = Header::read(bytes.get(*at..).unwrap_or_default())?;
    *at += header.len;
    let dims = Dims {
        z: header.z,
        m: header.m,
        code: header.code,
        little_endian: header.little_endian,
    };
    if let Some((z, m)) = expected
        && (z, m) != (dims.z, dims.m)
    {
        return Err("a part of the EWKB geometry has other dimensions (Z/M) than the whole".into());
    }
    Ok(dims)
}

fn read_u32(bytes: &[u8], at: usize, little_endian: bool) -> Result<u32, String> {
    geofn_contract::ewkb::read_u32(bytes, at, little_endian)
        .ok_or_else(|| "EWKB ends inside a header or count".to_owned())
}

struct Walker<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Walker<'_> {
    fn count(&mut self, dims: Dims) -> Result<usize, String> {
        let n = read_u32(self.bytes, self.at, dims.little_endian)? as usize;
        self.at += 4;
        Ok(n)
    }

    fn coordinates(&mut self, dims: Dims, points: usize) -> Result<(), String> {
        let size = 8 * (2 + usize::from(dims.z) + usize::from(dims.m));
        let needed = points.checked_mul(size).ok_or("EWKB count overflows")?;
        if self.bytes.len().saturating_sub(self.at) < needed {
            return Err("EWKB is shorter than its counts say".into());
        }
        self.at += needed;
        Ok(())
    }

    fn body(&mut self, dims: Dims, depth: usize) -> Result<(), String> {
        if depth > MAX_NESTING {
            return Err(format!("EWKB nests deeper than {MAX_NESTING} levels"));
        }
        match dims.code {
            1 => self.coordinates(dims, 1),
            2 => {
                let n = self.count(dims)?;
                self.coordinates(dims, n)
            }
            3 => {
                for _ in 0..self.count(dims)? {
                    let n = self.count(dims)?;
                    self.coordinates(dims, n)?;
                }
                Ok(())
            }
            4..=7 => {
                for _ in 0..self.count(dims)? {
                    let mut at = self.at;
                    let inner = header(self.bytes, &mut at, Some((dims.z, dims.m)))?;
                    self.at = at;
                    self.body(inner, depth + 1)?;
                }
                Ok(())
            }
            other => Err(format!(
                "EWKB geometry type {other} is not a simple feature type"
            )),
        }
    }
}

impl ToSql for Geometry {
    fn to_sql(
        &self,
        _ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        use bytes::BufMut;
        self.write_to(&mut out.writer())
            .map_err(|e| format!("encoding EWKB: {e:?}"))?;
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        is_geometry_type(ty)
    }

    to_sql_checked!();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point_ewkb(x: f64, y: f64) -> Vec<u8> {
        let mut out = vec![1u8];
        out.extend_from_slice(&0x2000_0001u32.to_le_bytes()); // point with SRID
        out.extend_from_slice(&4326i32.to_le_bytes());
        out.extend_from_slice(&x.to_le_bytes());
        out.extend_from_slice(&y.to_le_bytes());
        out
    }

    #[test]
    fn point_round_trips_exactly() {
        let bytes = point_ewkb(2.3522, 48.8566);
        let geometry = Geometry::from_ewkb(&bytes).unwrap();
        assert!(matches!(geometry, Geometry::Xy(ewkb::GeometryT::Point(p))
            if p.x == 2.3522 && p.y == 48.8566 && p.srid == Some(4326)));
        assert_eq!(geometry.to_ewkb(), bytes);
    }

    #[test]
    fn z_ordinate_survives() {
        let mut bytes = vec![1u8];
        bytes.extend_from_slice(&(0x2000_0001u32 | EWKB_Z).to_le_bytes());
        bytes.extend_from_slice(&4326i32.to_le_bytes());
        for v in [1.0f64, 2.0, 3.0] {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        let geometry = Geometry::from_ewkb(&bytes).unwrap();
        assert!(matches!(geometry, Geometry::Xyz(ewkb::GeometryT::Point(p)) if p.z == 3.0));
        assert_eq!(geometry.to_ewkb(), bytes);
    }

    #[test]
    fn parts_with_other_dimensions_are_refused_not_panicked_on() {
        // Found by cargo fuzz (host/fuzz/regressions): a collection with M
        // whose part lacks the M flag made the postgis crate panic.
        let mut multi = vec![1u8];
        multi.extend_from_slice(&(4u32 | EWKB_M).to_le_bytes()); // multipoint M
        multi.extend_from_slice(&1u32.to_le_bytes());
        multi.push(1);
        multi.extend_from_slice(&1u32.to_le_bytes()); // a point without M
        multi.extend_from_slice(&[0; 16]);
        assert!(
            Geometry::from_ewkb(&multi)
                .unwrap_err()
                .contains("dimensions")
        );
    }

    #[test]
    fn deep_nesting_is_refused_before_decoding() {
        let mut deep = Vec::new();
        for _ in 0..100_000 {
            deep.push(1u8);
            deep.extend_from_slice(&7u32.to_le_bytes()); // geometry collection
            deep.extend_from_slice(&1u32.to_le_bytes());
        }
        assert!(Geometry::from_ewkb(&deep).unwrap_err().contains("deeper"));
    }

    #[test]
    fn counts_beyond_the_bytes_are_refused() {
        let mut line = vec![1u8];
        line.extend_from_slice(&2u32.to_le_bytes());
        line.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(Geometry::from_ewkb(&line).unwrap_err().contains("shorter"));
    }

    #[test]
    fn malformed_input_is_rejected_with_a_reason() {
        assert!(Geometry::from_ewkb(&[]).unwrap_err().contains("empty"));
        assert!(
            Geometry::from_ewkb(&[7, 0, 0, 0, 0])
                .unwrap_err()
                .contains("byte-order")
        );
        let truncated = &point_ewkb(1.0, 2.0)[..20];
        assert!(Geometry::from_ewkb(truncated).is_err());
        let mut trailing = point_ewkb(1.0, 2.0);
        trailing.push(0);
        assert!(
            Geometry::from_ewkb(&trailing)
                .unwrap_err()
                .contains("trailing")
        );
    }
}
