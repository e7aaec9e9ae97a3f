//! The query parameters of a point listing, checked.

use geofn_guest::cql2::Compiled;
use geofn_guest::http::Problem;

use crate::cursor::Cursor;
use crate::datetime::{TimeRange, parse_datetime};

/// Largest radius that means anything on Earth: half the equator, in metres.
pub const MAX_RADIUS_M: f64 = 20_037_509.0;

/// `limit` bounds of one API.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// When the client gives none.
    pub default: i64,
    /// Largest accepted.
    pub max: i64,
}

/// A longitude/latitude box in EPSG:4326. `min_lon > max_lon` means the box
/// crosses the antimeridian (e.g. 170,-20,-170,20 around Fiji).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bbox {
    pub min_lon: f64,
    pub min_lat: f64,
    pub max_lon: f64,
    pub max_lat: f64,
}

impl Bbox {
    /// Whether the box wraps around the ±180° meridian.
    pub fn crosses_antimeridian(&self) -> bool {
        self.min_lon > self.max_lon
    }
}

/// Points within `radius_m` metres of a place, on the sphere.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Near {
    pub lon: f64,
    pub lat: f64,
    pub radius_m: f64,
}

/// A listing request.
#[derive(Debug, Clone)]
pub struct Query {
    pub bbox: Option<Bbox>,
    pub near: Option<Near>,
    pub datetime: Option<TimeRange>,
    /// A CQL2 filter over [`crate::queryables::POINTS`], already checked
    /// and compiled (OGC API – Features Part 3); [`parse`] leaves it `None`.
    pub filter: Option<Compiled>,
    pub limit: i64,
    pub cursor: Option<Cursor>,
}

#[cfg(test)]
impl Query {
    /// A first page of ten, no filter: what tests vary.
    pub(crate) fn first_ten() -> Query {
        Query {
            bbox: None,
            near: None,
            datetime: None,
            filter: None,
            limit: 10,
            cursor: None,
        }
    }
}

/// Parses the parameters this crate owns; others are left to the caller.
pub fn parse(pairs: &[(String, String)], limits: Limits) -> Result<Query, Problem> {
    let bbox = single(pairs, "bbox")?.map(parse_bbox).transpose()?;
    let near = single(pairs, "near")?;
    let radius = single(pairs, "radius")?;
    let near = match (near, radius) {
        (None, None) => None,
        (Some(_), None) => {
            return Err(bad(
                "radius",
                "near needs radius (metres), e.g. near=2.35,48.85&radius=5000",
            ));
        }
        (None, Some(_)) => return Err(bad("near", "radius needs near=lon,lat")),
        (Some(near), Some(radius)) => Some(parse_near(near, radius)?),
    };
    // An empty `datetime=` is valid against OGC API's schema for it (a
    // string): it asks for no time filter.
    let datetime = single(pairs, "datetime")?
        .filter(|raw| !raw.is_empty())
        .map(parse_datetime)
        .transpose()?;
    let limit = match single(pairs, "limit")? {
        None => limits.default,
        Some(raw) => match raw.trim().parse::<i64>() {
            Ok(n) if (1..=limits.max).contains(&n) => n,
            _ => {
                return Err(bad(
                    "limit",
                    format!(
                        "limit must be an integer from 1 to {}, got {raw:?}",
                        limits.max
                    ),
                ));
            }
        },
    };
    // An empty `cursor=` is the first page, as its absence.
    let cursor = match single(pairs, "cursor")?.filter(|raw| !raw.is_empty()) {
        None => None,
        Some(raw) => {
            let cursor = Cursor::decode(raw).ok_or_else(|| {
                bad(
                    "cursor",
                    "cursor is not one this server issued; follow the next link as given",
                )
            })?;
            let fits = matches!(
                (&cursor, &near),
                (Cursor::Before { .. }, None) | (Cursor::After { .. }, Some(_))
            );
            if !fits {
                return Err(bad(
                    "cursor",
                    "this cursor belongs to a different kind of query",
                ));
            }
            Some(cursor)
        }
    };
    Ok(Query {
        bbox,
        near,
        datetime,
        filter: None,
        limit,
        cursor,
    })
}

/// A parameter given at most once.
pub fn single<'a>(pairs: &'a [(String, String)], name: &str) -> Result<Option<&'a str>, Problem> {
    let mut values = pairs
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str());
    let first = values.next();
    if values.next().is_some() {
        return Err(bad(name, format!("{name} must be given at most once")));
    }
    Ok(first)
}

fn numbers(name: &str, raw: &str) -> Result<Vec<f64>, Problem> {
    raw.split(',')
        .map(|part| match part.trim().parse::<f64>() {
            Ok(n) if n.is_finite() => Ok(n),
            _ => Err(bad(
                name,
                format!("{name} has {part:?}, which is not a finite number"),
            )),
        })
        .collect()
}

fn parse_bbox(raw: &str) -> Result<Bbox, Problem> {
    let n = numbers("bbox", raw)?;
    // 6 numbers is a 3D box (OGC API allows it); heights do not apply to points.
    let (min_lon, min_lat, max_lon, max_lat) = match n[..] {
        [a, b, c, d] => (a, b, c, d),
        [a, b, _, d, e, _] => (a, b, d, e),
        _ => {
            return Err(bad(
                "bbox",
                format!(
                    "bbox is minLon,minLat,maxLon,maxLat (4 numbers), got {} in {raw:?}",
                    n.len()
                ),
            ));
        }
    };
    for (value, what, bound) in [
        (min_lon, "minLon", 180.0),
        (max_lon, "maxLon", 180.0),
        (min_lat, "minLat", 90.0),
        (max_lat, "maxLat", 90.0),
    ] {
        if !(-bound..=bound).contains(&value) {
            return Err(bad(
                "bbox",
                format!("bbox {what} {value} is outside [-{bound}, {bound}]"),
            ));
        }
    }
    if min_lat > max_lat {
        return Err(bad(
            "bbox",
            format!("bbox minLat {min_lat} is above maxLat {max_lat}"),
        ));
    }
    Ok(Bbox {
        min_lon,
        min_lat,
        max_lon,
        max_lat,
    })
}

fn parse_near(near: &str, radius: &str) -> Result<Near, Problem> {
    let n = numbers("near", near)?;
    let [lon, lat] = n[..] else {
        return Err(bad(
            "near",
            format!("near is lon,lat (2 numbers), got {near:?}"),
        ));
    };
    if !(-180.0..=180.0).contains(&lon) {
        return Err(bad(
            "near",
            format!("near longitude {lon} is outside [-180, 180]"),
        ));
    }
    if !(-90.0..=90.0).contains(&lat) {
        return Err(bad(
            "near",
            format!("near latitude {lat} is outside [-90, 90]"),
        ));
    }
    let radius_m = match radius.trim().parse::<f64>() {
        Ok(r) if r.is_finite() && r > 0.0 && r <= MAX_RADIUS_M => r,
        _ => {
            return Err(bad(
                "radius",
                format!("radius is metres, above 0 and at most {MAX_RADIUS_M}, got {radius:?}"),
            ));
        }
    };
    Ok(Near { lon, lat, radius_m })
}

fn bad(parameter: &str, detail: impl Into<String>) -> Problem {
    Problem::bad_parameter(parameter, detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        default: 100,
        max: 10_000,
    };

    fn q(text: &str) -> Result<Query, Problem> {
        let pairs: Vec<(String, String)> = text
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (k.to_owned(), v.to_owned())
            })
            .collect();
        parse(&pairs, LIMITS)
    }

    fn parameter(text: &str) -> Option<String> {
        q(text).err().and_then(|p| p.0.parameter)
    }

    #[test]
    fn nothing_is_the_default_listing() {
        let query = q("").unwrap();
        assert!(query.bbox.is_none() && query.near.is_none() && query.datetime.is_none());
        assert!(query.filter.is_none() && query.cursor.is_none());
        assert_eq!(query.limit, 100);
    }

    #[test]
    fn boxes_parse_including_antimeridian_and_3d() {
        let bbox = q("bbox=170,-20,-170,20").unwrap().bbox.unwrap();
        assert!(bbox.crosses_antimeridian());
        let bbox = q("bbox=1,2,0,3,4,100").unwrap().bbox.unwrap();
        assert_eq!((bbox.min_lon, bbox.max_lat), (1.0, 4.0));
    }

    #[test]
    fn bad_boxes_name_bbox() {
        for text in [
            "bbox=1,2,3",
            "bbox=a,b,c,d",
            "bbox=0,0,181,1",
            "bbox=0,10,1,5",
            "bbox=0,-91,1,1",
            "bbox=inf,0,1,1",
            "bbox=1,1,1,1&bbox=1,1,1,1",
        ] {
            assert_eq!(parameter(text).as_deref(), Some("bbox"), "{text}");
        }
    }

    #[test]
    fn near_needs_radius_and_sane_values() {
        assert!(q("near=2.35,48.85&radius=1000").unwrap().near.is_some());
        assert_eq!(parameter("near=2.35,48.85").as_deref(), Some("radius"));
        assert_eq!(parameter("radius=5").as_deref(), Some("near"));
        assert_eq!(parameter("near=2.35&radius=5").as_deref(), Some("near"));
        assert_eq!(parameter("near=200,0&radius=5").as_deref(), Some("near"));
        for radius in ["0", "-1", "NaN", "1e9", "x"] {
            assert_eq!(
                parameter(&format!("near=0,0&radius={radius}")).as_deref(),
                Some("radius")
            );
        }
    }

    #[test]
    fn datetimes_are_instants_or_half_open_intervals() {
        let range = q("datetime=2026-11-26T10:00:00Z")
            .unwrap()
            .datetime
            .unwrap();
        assert_eq!(range.start, range.end);
        let range = q("datetime=2026-02-28/..").unwrap().datetime.unwrap();
        assert_eq!(range.start.unwrap().instant, "2026-02-28T00:00:00Z");
        assert!(range.end.is_none());
        let range = q("datetime=../2026-11-26T10:00:00.123+01:00")
            .unwrap()
            .datetime
            .unwrap();
        assert!(range.start.is_none() && !range.end.unwrap().whole_day);
        // Empty is schema-valid (a string) and filters nothing.
        assert_eq!(q("datetime=").unwrap().datetime, None);
        for bad in [
            "yesterday",
            "2026-02-29",
            "2026-13-01",
            "2026-11-26T25:00:00Z",
            "2026-11-26T10:00:00",
            "../..",
            "2026-11-26T10:00:00.Z",
        ] {
            assert_eq!(
                parameter(&format!("datetime={bad}")).as_deref(),
                Some("datetime"),
                "{bad}"
            );
        }
    }

    #[test]
    fn cursors_must_match_their_query() {
        let newest = Cursor::Before { id: 5 }.encode();
        let nearest = Cursor::After {
            distance: 1.0,
            id: 5,
        }
        .encode();
        assert!(q(&format!("cursor={newest}")).is_ok());
        assert_eq!(
            parameter(&format!("near=0,0&radius=5&cursor={newest}")).as_deref(),
            Some("cursor")
        );
        assert_eq!(
            parameter(&format!("cursor={nearest}")).as_deref(),
            Some("cursor")
        );
        assert_eq!(parameter("cursor=bogus").as_deref(), Some("cursor"));
        // Empty, as a form leaves it: the first page (`/api` calls it valid).
        assert!(q("cursor=").unwrap().cursor.is_none());
    }
}
