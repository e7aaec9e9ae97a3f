//! Literals of a filter, checked before they are bound: geometries parsed,
//! closed and brought to WGS 84 longitude/latitude; instants parsed.

use cql2::{Expr, Geometry};
use geo_types::{Coord, Geometry as Geo, LineString, Polygon};
use wkt::{ToWkt, TryFromWkt};

use super::{Queryable, Type, bad};
use crate::crs::Crs;
use crate::http::Problem;

/// A geometry literal as WKT in WGS 84 longitude/latitude: parsed (so
/// PostGIS never sees text it would refuse), its rings closed, its
/// coordinates converted from `crs` and checked to lie on Earth.
pub fn geometry_wkt(literal: &Geometry, crs: Crs) -> Result<String, Problem> {
    let mut geo = match literal {
        Geometry::Wkt(text) => Geo::<f64>::try_from_wkt_str(text)
            .map_err(|e| bad(format!("filter has a geometry that is not WKT: {e}")))?,
        Geometry::GeoJSON(json) => Geo::<f64>::try_from(json.clone())
            .map_err(|e| bad(format!("filter has a geometry that is not GeoJSON: {e}")))?,
    };
    let mut outside = None;
    for_each_coord(
        &mut geo,
        &mut |c: &mut Coord<f64>| match crs.to_lon_lat(c.x, c.y) {
            Some((lon, lat)) => *c = Coord { x: lon, y: lat },
            None => outside = outside.or(Some((c.x, c.y))),
        },
    );
    if let Some((a, b)) = outside {
        return Err(bad(format!(
            "filter has coordinates ({a}, {b}) outside {} (filter-crs)",
            crs.uri()
        )));
    }
    Ok(geo.wkt_string())
}

/// A `BBOX(...)` literal as four WGS 84 numbers (west, south, east, north):
/// 4 or 6 numbers in `crs`, heights ignored.
pub fn bbox(numbers: &[Box<Expr>], crs: Crs) -> Result<[f64; 4], Problem> {
    let values: Vec<f64> = numbers
        .iter()
        .map(|n| match n.as_ref() {
            Expr::Float(f) if f.is_finite() => Ok(*f),
            _ => Err(bad("a BBOX holds numbers only")),
        })
        .collect::<Result<_, _>>()?;
    let (a, b, c, d) = match values[..] {
        [a, b, c, d] => (a, b, c, d),
        [a, b, _, d, e, _] => (a, b, d, e),
        _ => {
            return Err(bad(format!(
                "a BBOX has 4 or 6 numbers, not {}",
                values.len()
            )));
        }
    };
    let corner = |x, y| {
        crs.to_lon_lat(x, y).ok_or_else(|| {
            bad(format!(
                "filter has a BBOX corner ({x}, {y}) outside {}",
                crs.uri()
            ))
        })
    };
    let (west, south) = corner(a, b)?;
    let (east, north) = corner(c, d)?;
    if south > north {
        return Err(bad("a BBOX's south edge is above its north edge"));
    }
    Ok([west, south, east, north])
}

/// An instant literal's text, checked: `TIMESTAMP('…')` (RFC 3339, UTC or
/// with an offset) or `DATE('…')`, or `..` (open) inside an interval.
/// Answers the instant's canonical text, which is what gets bound.
pub fn instant(text: &str, date: bool) -> Result<String, Problem> {
    let canonical = if date {
        crate::rfc3339::date(text)
    } else {
        crate::rfc3339::instant(text)
    };
    if let Some(canonical) = canonical {
        Ok(canonical)
    } else {
        let what = if date { "DATE" } else { "TIMESTAMP" };
        Err(bad(format!(
            "{what}('{text}') is not a valid {}",
            what.to_lowercase()
        )))
    }
}

/// `name=value` given as a query parameter of its own
/// (queryables-query-parameters): equality, the value read as the
/// queryable's type.
pub fn equals_parameter(queryable: &Queryable, raw: &str) -> Result<Expr, Problem> {
    let name = queryable.name;
    let wrong = |what: &str| Problem::bad_parameter(name, format!("{name} is {what}, got {raw:?}"));
    let value = match queryable.kind {
        Type::String => Expr::Literal(raw.to_owned()),
        // As the queryables and /api document it: `id=0.5` is refused,
        // not run as a comparison nothing can meet. Any number of digits
        // is an integer (the document sets no bounds); one past int8 is
        // compared as a float and meets no row.
        Type::Integer => {
            let text = raw.trim();
            let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
            match text.parse::<f64>() {
                Ok(n) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
                    Expr::Float(n)
                }
                _ => return Err(wrong("an integer")),
            }
        }
        Type::Number => match raw.trim().parse::<f64>() {
            Ok(n) if n.is_finite() => Expr::Float(n),
            _ => return Err(wrong("a number")),
        },
        Type::Boolean => match raw {
            "true" => Expr::Bool(true),
            "false" => Expr::Bool(false),
            _ => return Err(wrong("true or false")),
        },
        Type::Timestamp => {
            instant(raw, false).map_err(|_| wrong("an RFC 3339 timestamp"))?;
            Expr::Timestamp {
                timestamp: Box::new(Expr::Literal(raw.to_owned())),
            }
        }
        Type::Geometry => return Err(wrong("a geometry, filtered with filter=S_INTERSECTS(…)")),
    };
    Ok(Expr::Operation {
        op: "=".into(),
        args: vec![
            Box::new(Expr::Property {
                property: name.to_owned(),
            }),
            Box::new(value),
        ],
    })
}

/// Calls `f` on every coordinate of `geo`.
fn for_each_coord(geo: &mut Geo<f64>, f: &mut impl FnMut(&mut Coord<f64>)) {
    fn line(ls: &mut LineString<f64>, f: &mut impl FnMut(&mut Coord<f64>)) {
        ls.0.iter_mut().for_each(f);
    }
    fn polygon(p: &mut Polygon<f64>, f: &mut impl FnMut(&mut Coord<f64>)) {
        p.exterior_mut(|ls| line(ls, f));
        p.interiors_mut(|rings| rings.iter_mut().for_each(|ls| line(ls, f)));
    }
    match geo {
        Geo::Point(p) => f(&mut p.0),
        Geo::Line(l) => {
            f(&mut l.start);
            f(&mut l.end);
        }
        Geo::LineString(ls) => line(ls, f),
        Geo::Polygon(p) => polygon(p, f),
        Geo::MultiPoint(mp) => mp.0.iter_mut().for_each(|p| f(&mut p.0)),
        Geo::MultiLineString(mls) => mls.0.iter_mut().for_each(|ls| line(ls, f)),
        Geo::MultiPolygon(mp) => mp.0.iter_mut().for_each(|p| polygon(p, f)),
        Geo::GeometryCollection(gc) => gc.0.iter_mut().for_each(|g| for_each_coord(g, f)),
        Geo::Rect(r) => {
            let (mut min, mut max) = (r.min(), r.max());
            f(&mut min);
            f(&mut max);
            *r = geo_types::Rect::new(min, max);
        }
        Geo::Triangle(t) => {
            let (mut a, mut b, mut c) = (t.v1(), t.v2(), t.v3());
            f(&mut a);
            f(&mut b);
            f(&mut c);
            *t = geo_types::Triangle::new(a, b, c);
        }
    }
}
