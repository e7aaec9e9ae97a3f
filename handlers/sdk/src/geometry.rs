//! Geometries as handlers meet them: EWKB points (what `db::Value::Geometry`
//! carries for point columns, in the layout the host reads too,
//! `geofn_contract::ewkb`), and the coordinates clients put in query
//! parameters, checked as a client deserves.

use std::str::FromStr;

pub use geofn_contract::ewkb::{WGS84, point_xy};

/// A 2D point in EWKB with the given SRID.
pub fn point_ewkb(x: f64, y: f64, srid: i32) -> Vec<u8> {
    geofn_contract::ewkb::point(x, y, srid)
}

/// A longitude and latitude: `lon,lat`, finite and within range
/// (`ctx.query::<LonLat>("near")`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LonLat {
    /// Degrees east, -180 to 180.
    pub lon: f64,
    /// Degrees north, -90 to 90.
    pub lat: f64,
}

/// A box in longitude and latitude: `minLon,minLat,maxLon,maxLat`
/// (`ctx.query::<Bbox>("bbox")`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bbox {
    /// South-west corner.
    pub min: LonLat,
    /// North-east corner.
    pub max: LonLat,
}

/// Why coordinates were refused; shown to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadCoordinates(pub String);

impl std::fmt::Display for BadCoordinates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn numbers<const N: usize>(text: &str) -> Result<[f64; N], BadCoordinates> {
    let parts: Vec<f64> = text
        .split(',')
        .map(|part| part.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| {
            BadCoordinates(format!(
                "{N} comma-separated numbers expected, got {text:?}"
            ))
        })?;
    let parts: [f64; N] = parts.try_into().map_err(|_| {
        BadCoordinates(format!(
            "{N} comma-separated numbers expected, got {text:?}"
        ))
    })?;
    if parts.iter().any(|n| !n.is_finite()) {
        return Err(BadCoordinates(format!(
            "coordinates must be finite, got {text:?}"
        )));
    }
    Ok(parts)
}

impl LonLat {
    /// Checks the ranges.
    pub fn new(lon: f64, lat: f64) -> Result<Self, BadCoordinates> {
        if !lon.is_finite() || !(-180.0..=180.0).contains(&lon) {
            return Err(BadCoordinates(format!(
                "longitude must be within -180..180, got {lon}"
            )));
        }
        if !lat.is_finite() || !(-90.0..=90.0).contains(&lat) {
            return Err(BadCoordinates(format!(
                "latitude must be within -90..90, got {lat}"
            )));
        }
        Ok(Self { lon, lat })
    }
}

impl FromStr for LonLat {
    type Err = BadCoordinates;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let [lon, lat] = numbers(text)?;
        Self::new(lon, lat)
    }
}

impl FromStr for Bbox {
    type Err = BadCoordinates;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let [a, b, c, d] = numbers(text)?;
        let (min, max) = (LonLat::new(a, b)?, LonLat::new(c, d)?);
        if min.lat > max.lat {
            return Err(BadCoordinates(format!(
                "a box's south edge ({}) must not be north of its north edge ({})",
                min.lat, max.lat
            )));
        }
        Ok(Self { min, max })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coordinates_parse_and_are_checked() {
        assert_eq!(
            "2.35,48.85".parse(),
            Ok(LonLat {
                lon: 2.35,
                lat: 48.85
            })
        );
        for bad in ["2.35", "x,1", "181,0", "0,91", "NaN,0", "1,2,3"] {
            assert!(bad.parse::<LonLat>().is_err(), "{bad}");
        }
        let bbox: Bbox = "-10,40,10,50".parse().unwrap();
        assert_eq!((bbox.min.lon, bbox.max.lat), (-10.0, 50.0));
        assert!("-10,50,10,40".parse::<Bbox>().is_err());
    }
}
