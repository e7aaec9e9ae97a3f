//! Coordinate reference systems of OGC API – Features Part 2 that a
//! handler storing WGS 84 longitude/latitude can answer in by itself:
//! CRS84, EPSG:4326 (latitude first, as EPSG defines it) and Web Mercator.
//! Conversions run in the guest, so a listing's SQL is the same in every
//! CRS and keeps using the geometry index.

use crate::http::Problem;

/// OGC's WGS 84 with longitude first: GeoJSON's own, the default.
pub const CRS84: &str = "http://www.opengis.net/def/crs/OGC/1.3/CRS84";
/// EPSG's WGS 84: latitude first.
pub const EPSG_4326: &str = "http://www.opengis.net/def/crs/EPSG/0/4326";
/// Web Mercator (the tiles' CRS), metres.
pub const EPSG_3857: &str = "http://www.opengis.net/def/crs/EPSG/0/3857";

/// Earth's radius of Web Mercator's sphere, metres.
const RADIUS: f64 = 6_378_137.0;
/// Web Mercator's latitude limit: the square world.
pub const MAX_MERCATOR_LAT: f64 = 85.051_128_779_806_59;
/// Half the width of Web Mercator's square world, metres.
pub const MERCATOR_HALF_WORLD: f64 = 20_037_508.342_789_244;

/// A CRS a request may name in `crs`, `bbox-crs` or `filter-crs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Crs {
    Crs84,
    Epsg4326,
    WebMercator,
}

impl Crs {
    /// Every CRS offered, the default first (a collection's `crs` list).
    pub const ALL: [Crs; 3] = [Crs::Crs84, Crs::Epsg4326, Crs::WebMercator];

    /// The CRS's URI, as `crs` lists and `Content-Crs` carry it.
    pub fn uri(self) -> &'static str {
        match self {
            Crs::Crs84 => CRS84,
            Crs::Epsg4326 => EPSG_4326,
            Crs::WebMercator => EPSG_3857,
        }
    }

    /// The `Content-Crs` header value: the URI in angle brackets.
    pub fn header(self) -> String {
        format!("<{}>", self.uri())
    }

    /// A CRS by URI, safe CURIE (`[EPSG:4326]`) or `EPSG:4326`.
    pub fn parse(raw: &str) -> Option<Crs> {
        let raw = raw.trim();
        let raw = raw
            .strip_prefix('[')
            .and_then(|r| r.strip_suffix(']'))
            .unwrap_or(raw);
        let code = raw
            .strip_prefix("http://www.opengis.net/def/crs/")
            .or_else(|| raw.strip_prefix("https://www.opengis.net/def/crs/"))
            .map(|rest| rest.replacen('/', ":", 1).replacen("/", ":", 1))
            .unwrap_or_else(|| raw.to_owned());
        match code.to_ascii_uppercase().as_str() {
            "OGC:1.3:CRS84" | "OGC:0:CRS84" | "OGC:CRS84" => Some(Crs::Crs84),
            "EPSG:0:4326" | "EPSG:4326" => Some(Crs::Epsg4326),
            "EPSG:0:3857" | "EPSG:3857" => Some(Crs::WebMercator),
            _ => None,
        }
    }

    /// The CRS a query parameter names, CRS84 when absent; anything else is
    /// a 400 naming the parameter and what is offered.
    pub fn from_param(parameter: &str, raw: Option<&str>) -> Result<Crs, Problem> {
        let Some(raw) = raw else {
            return Ok(Crs::Crs84);
        };
        Crs::parse(raw).ok_or_else(|| {
            let offered: Vec<&str> = Crs::ALL.iter().map(|c| c.uri()).collect();
            Problem::bad_parameter(
                parameter,
                format!(
                    "{parameter} {raw:?} is not offered; use one of {}",
                    offered.join(", ")
                ),
            )
        })
    }

    /// WGS 84 longitude/latitude as this CRS's two ordinates, in its axis order.
    pub fn from_lon_lat(self, lon: f64, lat: f64) -> (f64, f64) {
        match self {
            Crs::Crs84 => (lon, lat),
            Crs::Epsg4326 => (lat, lon),
            Crs::WebMercator => {
                let lat = lat.clamp(-MAX_MERCATOR_LAT, MAX_MERCATOR_LAT).to_radians();
                (
                    RADIUS * lon.to_radians(),
                    RADIUS * (std::f64::consts::FRAC_PI_4 + lat / 2.0).tan().ln(),
                )
            }
        }
    }

    /// This CRS's two ordinates as WGS 84 longitude/latitude; `None` when
    /// they lie outside its area (a latitude past ±90, Mercator past its world).
    pub fn to_lon_lat(self, a: f64, b: f64) -> Option<(f64, f64)> {
        let (lon, lat) = match self {
            Crs::Crs84 => (a, b),
            Crs::Epsg4326 => (b, a),
            Crs::WebMercator => {
                let limit = MERCATOR_HALF_WORLD * (1.0 + 1e-9);
                if a.abs() > limit || b.abs() > limit {
                    return None;
                }
                (
                    (a / RADIUS).to_degrees(),
                    (b / RADIUS).sinh().atan().to_degrees(),
                )
            }
        };
        (lon.is_finite() && lat.is_finite() && lon.abs() <= 180.0 + 1e-9 && lat.abs() <= 90.0)
            .then_some((lon.clamp(-180.0, 180.0), lat))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paris_in_web_mercator() {
        let (x, y) = Crs::WebMercator.from_lon_lat(2.3522, 48.856614);
        assert!((x - 261_845.7).abs() < 0.5, "{x}");
        assert!((y - 6_250_566.7).abs() < 0.5, "{y}");
        let (lon, lat) = Crs::WebMercator.to_lon_lat(x, y).unwrap();
        assert!((lon - 2.3522).abs() < 1e-9 && (lat - 48.856614).abs() < 1e-9);
    }

    #[test]
    fn epsg_4326_is_latitude_first() {
        assert_eq!(Crs::Epsg4326.from_lon_lat(2.0, 48.0), (48.0, 2.0));
        assert_eq!(Crs::Epsg4326.to_lon_lat(48.0, 2.0), Some((2.0, 48.0)));
        assert_eq!(Crs::Epsg4326.to_lon_lat(100.0, 2.0), None);
    }

    #[test]
    fn names_in_every_spelling() {
        for raw in [EPSG_4326, "EPSG:4326", "[EPSG:4326]", "epsg:4326"] {
            assert_eq!(Crs::parse(raw), Some(Crs::Epsg4326), "{raw}");
        }
        assert_eq!(Crs::parse(CRS84), Some(Crs::Crs84));
        assert_eq!(
            Crs::parse("http://www.opengis.net/def/crs/EPSG/0/3857"),
            Some(Crs::WebMercator)
        );
        assert_eq!(
            Crs::parse("http://www.opengis.net/def/crs/EPSG/0/2154"),
            None
        );
        assert!(Crs::from_param("crs", Some("EPSG:2154")).is_err());
    }
}
