//! Geometries crossing the guest boundary as EWKB, decoded and re-encoded by
//! the `postgis` crate so that malformed input is caught before PostgreSQL.
//!
//! The crate types a geometry by its point dimension; [`Geometry`] picks the
//! right one from the EWKB header so Z and M ordinates survive the trip.

use std::error::Error as StdError;
use std::io::Cursor;

use bytes::BytesMut;
use postgis::ewkb::{self, AsEwkbGeometry, EwkbRead, EwkbWrite};
use tokio_postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};

/// EWKB type-word flag: the geometry has Z ordinates.
const EWKB_Z: u32 = 0x8000_0000;
/// EWKB type-word flag: the geometry has M ordinates.
const EWKB_M: u32 = 0x4000_0000;

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
    /// Decodes EWKB; rejects truncated input and trailing bytes.
    pub fn from_ewkb(bytes: &[u8]) -> Result<Self, String> {
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

impl<'a> FromSql<'a> for Geometry {
    fn from_sql(_ty: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn StdError + Sync + Send>> {
        Ok(Geometry::from_ewkb(raw)?)
    }

    fn accepts(ty: &Type) -> bool {
        is_geometry_type(ty)
    }
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
