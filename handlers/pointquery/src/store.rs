//! The SQL of point listings. Boxes use `geom && envelope` (the geometry
//! GiST index); distances use `geom::geography` (the geography GiST index)
//! with `ST_DWithin` to filter and `<->` to order nearest first.

use geofn_guest::db::Value;
use geofn_guest::error::{Error, Result};
use geofn_guest::geometry::{WGS84, point_ewkb, point_xy};
use geofn_guest::packed::{self, Cell};
use serde::Serialize;

use crate::cursor::Cursor;
use crate::filter::Query;

/// A stored point, in the guide's wire format.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Point {
    pub id: i64,
    pub name: String,
    pub longitude: f64,
    pub latitude: f64,
    /// Metres from `near`, for nearest-first listings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distance_m: Option<f64>,
}

/// What a listing's rows carry: the geometry for the guest to decode, or
/// the guide's wire members for the host to render (`db.query-json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Columns {
    /// `id, name, geom[, distance]`: for [`points_of`].
    Geometry,
    /// `id, name, longitude, latitude[, distance_m]`: a [`Point`]'s members.
    Wire,
}

impl Columns {
    /// The select list over `id`, `name`, `geom` and the distance `d`.
    fn select(self, distance: Option<&str>) -> String {
        match (self, distance) {
            (Columns::Geometry, None) => "id, name, geom".to_owned(),
            (Columns::Geometry, Some("distance")) => "id, name, geom, distance".to_owned(),
            (Columns::Geometry, Some(d)) => format!("id, name, geom, {d} AS distance"),
            (Columns::Wire, None) => WIRE.to_owned(),
            (Columns::Wire, Some(d)) => format!("{WIRE}, {d} AS distance_m"),
        }
    }
}

/// A point's wire members in SQL; `ST_X`/`ST_Y` give back the stored doubles.
const WIRE: &str = "id, name, ST_X(geom) AS longitude, ST_Y(geom) AS latitude";

/// One page of a listing, and where the next starts if there is one.
#[derive(Debug)]
pub struct Page {
    pub points: Vec<Point>,
    pub next: Option<Cursor>,
}

/// Builds the statement for `query`; pure, so tests can read the SQL.
///
/// "Nearest within a radius" with no other filter is asked as "the nearest
/// `limit + 1` rows, then those within the radius": the inner query is a
/// pure KNN walk of the geography index that reads only as many rows as a
/// page needs, however many lie in the radius (the planner's row estimates
/// for `ST_DWithin` are too poor to find that plan by itself). With a bbox
/// or datetime as well, `ST_DWithin` bounds the work and the planner picks.
pub fn listing_sql(query: &Query, columns: Columns) -> (String, Vec<Value>) {
    let mut sql = Statement::default();
    let mut conditions = Vec::new();
    // A compiled filter numbers its parameters from $1: they go first.
    if let Some(filter) = &query.filter {
        sql.params.extend(filter.params.iter().cloned());
        conditions.push(filter.sql.clone());
    }
    let center = query
        .near
        .map(|near| sql.param(Value::Geometry(point_ewkb(near.lon, near.lat, WGS84))));
    let distance = center
        .as_ref()
        .map(|c| format!("geom::geography <-> {c}::geography"));
    let knn_only = query.near.is_some()
        && query.bbox.is_none()
        && query.datetime.is_none()
        && query.filter.is_none();
    if let Some(bbox) = query.bbox {
        let (min_lat, max_lat) = (
            sql.param(Value::Float(bbox.min_lat)),
            sql.param(Value::Float(bbox.max_lat)),
        );
        let (min_lon, max_lon) = (
            sql.param(Value::Float(bbox.min_lon)),
            sql.param(Value::Float(bbox.max_lon)),
        );
        let envelope = |w: &str, e: &str| {
            format!("geom && ST_MakeEnvelope({w}, {min_lat}, {e}, {max_lat}, {WGS84})")
        };
        conditions.push(if bbox.crosses_antimeridian() {
            format!(
                "({} OR {})",
                envelope(&min_lon, "180"),
                envelope("-180", &max_lon)
            )
        } else {
            envelope(&min_lon, &max_lon)
        });
    }
    if let Some(range) = &query.datetime {
        if let Some(start) = &range.start {
            let start = sql.param(Value::Text(start.instant.clone()));
            conditions.push(format!("created_at >= ({start}::text)::timestamptz"));
        }
        if let Some(end) = &range.end {
            let bound = sql.param(Value::Text(end.instant.clone()));
            conditions.push(if end.whole_day {
                format!("created_at < ({bound}::text)::timestamptz + interval '1 day'")
            } else {
                format!("created_at <= ({bound}::text)::timestamptz")
            });
        }
    }
    let radius = query
        .near
        .map(|near| sql.param(Value::Float(near.radius_m)));
    if let (Some(center), Some(radius), false) = (&center, &radius, knn_only) {
        conditions.push(format!(
            "ST_DWithin(geom::geography, {center}::geography, {radius}, false)"
        ));
    }
    match (query.cursor, &distance) {
        (Some(Cursor::Before { id }), _) => {
            let id = sql.param(Value::Int(id));
            conditions.push(format!("id < {id}"));
        }
        (Some(Cursor::After { distance: d, id }), Some(distance)) => {
            let (d, id) = (sql.param(Value::Float(d)), sql.param(Value::Int(id)));
            conditions.push(format!("({distance}, id) > ({d}, {id})"));
        }
        _ => {}
    }
    // One row more than asked tells whether a next page exists.
    let limit = sql.param(Value::Int(query.limit + 1));
    let filter = if conditions.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conditions.join(" AND "))
    };
    let statement = match (&distance, &radius) {
        // The index orders by distance alone (a second sort key would rule the
        // KNN scan out); WITH TIES keeps equidistant rows together so the
        // outer (distance, id) order, and the cursor, never split them.
        (Some(d), Some(radius)) if knn_only => format!(
            "SELECT {} FROM (\
             SELECT id, name, geom, {d} AS distance FROM points{filter} \
             ORDER BY {d} FETCH FIRST ({limit}) ROWS WITH TIES) AS nearest \
             WHERE distance <= {radius} ORDER BY distance, id LIMIT {limit}",
            columns.select(Some("distance"))
        ),
        (Some(d), _) => format!(
            "SELECT {} FROM points{filter} ORDER BY {d}, id LIMIT {limit}",
            columns.select(Some(d))
        ),
        (None, _) => format!(
            "SELECT {} FROM points{filter} ORDER BY id DESC LIMIT {limit}",
            columns.select(None)
        ),
    };
    (statement, sql.params)
}

/// Runs a listing.
pub fn fetch(query: &Query) -> Result<Page> {
    let (sql, params) = listing_sql(query, Columns::Geometry);
    let rows = packed::query(&sql, &params)?;
    let mut points = points_of(&rows)?;
    let more = points.len() as i64 > query.limit;
    points.truncate(usize::try_from(query.limit).unwrap_or(usize::MAX));
    let next = if more {
        points.last().map(|last| match last.distance_m {
            Some(distance) => Cursor::After {
                distance,
                id: last.id,
            },
            None => Cursor::Before { id: last.id },
        })
    } else {
        None
    };
    Ok(Page { points, next })
}

/// One point by id.
pub fn by_id(id: i64) -> Result<Option<Point>> {
    let rows = packed::query(
        "SELECT id, name, geom FROM points WHERE id = $1",
        &[Value::Int(id)],
    )?;
    Ok(points_of(&rows)?.pop())
}

/// Every row of `rows` as a [`Point`], or a 500 answer if one is not a point row.
pub fn points_of(rows: &packed::Rows) -> Result<Vec<Point>> {
    rows.map_rows(point_from_cells)
        .map_err(|_| internal("malformed point row"))
}

/// `(id, name, geom[, distance])` → [`Point`].
pub fn point_from_cells(cells: &[Cell<'_>]) -> Option<Point> {
    let (id, name, geom, distance_m) = match *cells {
        [Cell::Int(id), Cell::Text(name), Cell::Geometry(geom)] => (id, name, geom, None),
        [
            Cell::Int(id),
            Cell::Text(name),
            Cell::Geometry(geom),
            Cell::Float(d),
        ] => (id, name, geom, Some(d)),
        _ => return None,
    };
    let (longitude, latitude) = point_xy(geom)?;
    Some(Point {
        id,
        name: name.to_owned(),
        longitude,
        latitude,
        distance_m,
    })
}

pub(crate) fn internal(what: &str) -> Error {
    Error::new(500, "internal", "Internal error", what)
}

/// Numbered placeholders and their values, in step.
#[derive(Default)]
struct Statement {
    params: Vec<Value>,
}

impl Statement {
    fn param(&mut self, value: Value) -> String {
        self.params.push(value);
        format!("${}", self.params.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::{Bbox, Near};

    #[test]
    fn default_listing_is_newest_first_by_keyset() {
        let (sql, params) = listing_sql(
            &Query {
                cursor: Some(Cursor::Before { id: 99 }),
                ..Query::first_ten()
            },
            Columns::Geometry,
        );
        assert_eq!(
            sql,
            "SELECT id, name, geom FROM points WHERE id < $1 ORDER BY id DESC LIMIT $2"
        );
        assert!(matches!(params[..], [Value::Int(99), Value::Int(11)]));
    }

    #[test]
    fn antimeridian_boxes_split_in_two() {
        let (sql, _) = listing_sql(
            &Query {
                bbox: Some(Bbox {
                    min_lon: 170.0,
                    min_lat: -20.0,
                    max_lon: -170.0,
                    max_lat: 20.0,
                }),
                ..Query::first_ten()
            },
            Columns::Geometry,
        );
        assert!(sql.contains("ST_MakeEnvelope($3, $1, 180, $2, 4326) OR geom && ST_MakeEnvelope(-180, $1, $4, $2, 4326)"), "{sql}");
    }

    fn near() -> Option<Near> {
        Some(Near {
            lon: 2.0,
            lat: 48.0,
            radius_m: 1000.0,
        })
    }

    #[test]
    fn near_alone_is_a_pure_knn_walk_filtered_afterwards() {
        let (sql, params) = listing_sql(
            &Query {
                near: near(),
                ..Query::first_ten()
            },
            Columns::Geometry,
        );
        assert_eq!(
            sql,
            "SELECT id, name, geom, distance FROM (SELECT id, name, geom, \
             geom::geography <-> $1::geography AS distance FROM points \
             ORDER BY geom::geography <-> $1::geography FETCH FIRST ($3) ROWS WITH TIES) AS nearest \
             WHERE distance <= $2 ORDER BY distance, id LIMIT $3"
        );
        assert_eq!(params.len(), 3);
    }

    #[test]
    fn wire_columns_are_the_members_of_a_point() {
        let (sql, _) = listing_sql(&Query::first_ten(), Columns::Wire);
        assert_eq!(
            sql,
            "SELECT id, name, ST_X(geom) AS longitude, ST_Y(geom) AS latitude FROM points \
             ORDER BY id DESC LIMIT $1"
        );
        let (sql, _) = listing_sql(
            &Query {
                near: near(),
                ..Query::first_ten()
            },
            Columns::Wire,
        );
        assert!(
            sql.starts_with(
                "SELECT id, name, ST_X(geom) AS longitude, ST_Y(geom) AS latitude, \
                 distance AS distance_m FROM (SELECT id, name, geom, geom::geography"
            ),
            "{sql}"
        );
    }

    #[test]
    fn near_with_a_box_filters_with_dwithin() {
        let (sql, _) = listing_sql(
            &Query {
                near: near(),
                bbox: Some(Bbox {
                    min_lon: 0.0,
                    min_lat: 40.0,
                    max_lon: 10.0,
                    max_lat: 50.0,
                }),
                ..Query::first_ten()
            },
            Columns::Geometry,
        );
        assert!(
            sql.contains("AND ST_DWithin(geom::geography, $1::geography, $6, false)"),
            "{sql}"
        );
        assert!(
            sql.ends_with("ORDER BY geom::geography <-> $1::geography, id LIMIT $7"),
            "{sql}"
        );
    }

    #[test]
    fn a_filter_keeps_its_parameter_numbers_and_pages_by_keyset() {
        let filter = geofn_guest::cql2::Filter::parse(
            "name = 'Paris'",
            geofn_guest::cql2::Lang::Text,
            geofn_guest::crs::Crs::Crs84,
            crate::queryables::POINTS,
        )
        .unwrap()
        .compile()
        .unwrap();
        let (sql, params) = listing_sql(
            &Query {
                filter: Some(filter),
                cursor: Some(Cursor::Before { id: 7 }),
                ..Query::first_ten()
            },
            Columns::Geometry,
        );
        assert_eq!(
            sql,
            "SELECT id, name, geom FROM points WHERE (\"name\" = $1::text) AND id < $2 \
             ORDER BY id DESC LIMIT $3"
        );
        assert!(
            matches!(&params[..], [Value::Text(name), Value::Int(7), Value::Int(11)] if name == "Paris")
        );
    }
}
