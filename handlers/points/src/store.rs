//! The writes of the points API; reads live in `pointquery`, shared with
//! the OGC API handler.

use geofn_guest::db::Value;
use geofn_guest::error::{Error, Result};
use geofn_guest::geometry::{WGS84, point_ewkb};
use geofn_guest::{packed, sql};
use pointquery::store::{Point, points_of};

use crate::input::NewPoint;

const INSERT: &str = "INSERT INTO points (name, geom) VALUES ($1, $2) RETURNING id, name, geom";
const DELETE: &str = "DELETE FROM points WHERE id = $1";

/// Inserts a point; when this returns the row is committed.
pub fn insert(point: &NewPoint) -> Result<Point> {
    let params = [
        Value::Text(point.name.clone()),
        Value::Geometry(point_ewkb(point.longitude, point.latitude, WGS84)),
    ];
    let rows = packed::query(INSERT, &params)?;
    points_of(&rows)?.pop().ok_or_else(|| {
        Error::new(
            500,
            "internal",
            "Internal error",
            "insert returned no point",
        )
    })
}

/// Deletes a point; false when there was none.
pub fn delete(id: i64) -> Result<bool> {
    Ok(sql::execute(DELETE, &[Value::Int(id)])? > 0)
}
