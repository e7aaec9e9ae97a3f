//! The query of an items request: Part 1's `bbox`/`datetime`/`limit`,
//! Part 2's `crs` and `bbox-crs`, Part 3's `filter` and queryables, each
//! checked before any statement runs.

use geofn_guest::cql2::{self, Filter, Type};
use geofn_guest::crs::Crs;
use geofn_guest::error::{Error, Result};
use pointquery::filter::{self, Query};
use pointquery::queryables::POINTS;

use crate::LIMITS;

/// Parameters of Part 1 that items take.
const CORE_PARAMETERS: &[&str] = &["bbox", "datetime", "limit", "cursor", "f"];
/// Parameters of Part 2.
const CRS_PARAMETERS: &[&str] = &["crs", "bbox-crs"];

/// Every parameter items understand; others are a 400
/// (/req/core/query-param-unknown).
pub fn items_parameters() -> Vec<&'static str> {
    CORE_PARAMETERS
        .iter()
        .chain(CRS_PARAMETERS)
        .chain(cql2::PARAMETERS)
        .copied()
        .chain(
            POINTS
                .iter()
                .filter(|q| q.kind != Type::Geometry)
                .map(|q| q.name),
        )
        .collect()
}

/// An items request, checked: what to list, and the CRS to answer in.
pub fn items(pairs: &[(String, String)]) -> Result<(Query, Crs)> {
    let known = items_parameters();
    if let Some((unknown, _)) = pairs.iter().find(|(k, _)| !known.contains(&k.as_str())) {
        return Err(Error::bad_parameter(
            unknown,
            format!(
                "unknown parameter {unknown:?}; items take {}",
                known.join(", ")
            ),
        ));
    }
    let crs = answer_crs(pairs)?;
    let bbox_crs = Crs::from_param("bbox-crs", filter::single(pairs, "bbox-crs")?)?;
    let mut query = if bbox_crs == Crs::Crs84 {
        filter::parse(pairs, LIMITS)?
    } else {
        filter::parse(&bbox_in_lon_lat(pairs, bbox_crs)?, LIMITS)?
    };
    query.filter = Filter::from_query(pairs, POINTS)?
        .map(|f| f.compile())
        .transpose()?;
    Ok((query, crs))
}

/// `crs`: the CRS of the coordinates answered; CRS84 by default.
pub fn answer_crs(pairs: &[(String, String)]) -> Result<Crs> {
    Ok(Crs::from_param("crs", filter::single(pairs, "crs")?)?)
}

/// `pairs` with `bbox` given in `crs` rewritten as CRS84 longitudes and
/// latitudes, so the listing's SQL (and its index use) is the same in every
/// CRS. Web Mercator's boxes are boxes in longitude/latitude too.
fn bbox_in_lon_lat(pairs: &[(String, String)], crs: Crs) -> Result<Vec<(String, String)>> {
    let Some(raw) = filter::single(pairs, "bbox")? else {
        return Ok(pairs.to_vec());
    };
    let bad = |detail: String| Error::bad_parameter("bbox", detail);
    let numbers = raw
        .split(',')
        .map(|n| n.trim().parse::<f64>().ok().filter(|n| n.is_finite()))
        .collect::<Option<Vec<f64>>>()
        .ok_or_else(|| bad(format!("bbox is 4 or 6 numbers, got {raw:?}")))?;
    let (low, high) = match numbers[..] {
        [a, b, c, d] => ((a, b), (c, d)),
        [a, b, _, d, e, _] => ((a, b), (d, e)),
        _ => return Err(bad(format!("bbox is 4 or 6 numbers, got {raw:?}"))),
    };
    let corner = |(a, b): (f64, f64)| {
        crs.to_lon_lat(a, b)
            .ok_or_else(|| bad(format!("bbox corner {a},{b} is outside {}", crs.uri())))
    };
    let ((min_lon, min_lat), (max_lon, max_lat)) = (corner(low)?, corner(high)?);
    Ok(pairs
        .iter()
        .map(|(k, v)| match k.as_str() {
            "bbox" => (
                k.clone(),
                format!("{min_lon},{min_lat},{max_lon},{max_lat}"),
            ),
            _ => (k.clone(), v.clone()),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn bbox_crs_boxes_become_lon_lat() {
        let (query, crs) = items(&pairs(&[
            ("bbox", "48,2,49,3"),
            ("bbox-crs", "http://www.opengis.net/def/crs/EPSG/0/4326"),
        ]))
        .unwrap();
        let bbox = query.bbox.unwrap();
        assert_eq!(
            (bbox.min_lon, bbox.min_lat, bbox.max_lon, bbox.max_lat),
            (2.0, 48.0, 3.0, 49.0)
        );
        assert_eq!(crs, Crs::Crs84);
        let (query, _) = items(&pairs(&[
            ("bbox", "261845.7,6250566.7,261946,6250667"),
            ("bbox-crs", "EPSG:3857"),
        ]))
        .unwrap();
        let bbox = query.bbox.unwrap();
        assert!((bbox.min_lon - 2.3522).abs() < 1e-6 && (bbox.min_lat - 48.856614).abs() < 1e-6);
    }

    #[test]
    fn unknown_crs_and_parameters_are_refused() {
        for list in [
            &[("crs", "EPSG:2154")][..],
            &[("bbox-crs", "EPSG:2154"), ("bbox", "0,0,1,1")][..],
            &[("bbox-crs", "EPSG:3857"), ("bbox", "0,0,1e9,1")][..],
            &[("colour", "red")][..],
            &[("filter", "secret = 1")][..],
        ] {
            assert!(items(&pairs(list)).is_err(), "{list:?}");
        }
    }

    #[test]
    fn queryables_are_parameters() {
        let (query, _) = items(&pairs(&[("name", "Paris")])).unwrap();
        assert_eq!(query.filter.unwrap().sql, "(\"name\" = $1::text)");
    }
}
