//! The writes of the points API; reads live in `pointquery`, shared with
//! the OGC API handler.

use geofn_guest::Response;
use geofn_guest::db::{self, Value};
use geofn_guest::geometry::{WGS84, point_ewkb};
use geofn_guest::packed;
use geofn_guest::sql::failure_response;
use pointquery::store::{Point, points_of};

use crate::input::NewPoint;

const INSERT: &str = "INSERT INTO points (name, geom) VALUES ($1, $2) RETURNING id, name, geom";
const DELETE: &str = "DELETE FROM points WHERE id = $1";

/// Inserts a point; when this returns the row is committed.
pub fn insert(point: &NewPoint) -> Result<Point, Response> {
    let params = [
        Value::Text(point.name.clone()),
        Value::Geometry(point_ewkb(point.longitude, point.latitude, WGS84)),
    ];
    let rows = packed::query(INSERT, &params).map_err(|e| failure_response("insert point", e))?;
    points_of(&rows)?.pop().ok_or_else(|| {
        geofn_guest::http::Problem::new(
            500,
            "internal",
            "Internal error",
            "insert returned no point",
        )
        .into_response()
    })
}

/// Deletes a point; false when there was none.
pub fn delete(id: i64) -> Result<bool, Response> {
    let affected =
        db::execute(DELETE, &[Value::Int(id)]).map_err(|e| failure_response("delete point", e))?;
    Ok(affected > 0)
}
