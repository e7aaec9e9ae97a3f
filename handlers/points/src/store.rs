//! The SQL of the points API, always parameterised.

use geofn_guest::Response;
use geofn_guest::db::{self, Value};
use geofn_guest::geometry::{WGS84, point_ewkb, point_xy};
use geofn_guest::sql::failure_response;
use serde::Serialize;

use crate::input::NewPoint;

/// A stored point, in the guide's wire format.
#[derive(Debug, Serialize)]
pub struct Point {
    pub id: i64,
    pub name: String,
    pub longitude: f64,
    pub latitude: f64,
}

const INSERT: &str = "INSERT INTO points (name, geom) VALUES ($1, $2) RETURNING id, name, geom";
const NEWEST: &str = "SELECT id, name, geom FROM points ORDER BY id DESC LIMIT $1";
const BY_ID: &str = "SELECT id, name, geom FROM points WHERE id = $1";
const DELETE: &str = "DELETE FROM points WHERE id = $1";

/// Inserts a point; when this returns the row is committed.
pub fn insert(point: &NewPoint) -> Result<Point, Response> {
    let params = [
        Value::Text(point.name.clone()),
        Value::Geometry(point_ewkb(point.longitude, point.latitude, WGS84)),
    ];
    let rows = db::query(INSERT, &params).map_err(|e| failure_response("insert point", e))?;
    rows.rows
        .into_iter()
        .next()
        .and_then(from_row)
        .ok_or_else(|| unexpected("insert returned no point"))
}

/// The newest `limit` points.
pub fn newest(limit: i64) -> Result<Vec<Point>, Response> {
    let rows =
        db::query(NEWEST, &[Value::Int(limit)]).map_err(|e| failure_response("list points", e))?;
    rows.rows
        .into_iter()
        .map(|row| from_row(row).ok_or_else(|| unexpected("malformed point row")))
        .collect()
}

/// One point, if it exists.
pub fn by_id(id: i64) -> Result<Option<Point>, Response> {
    let rows =
        db::query(BY_ID, &[Value::Int(id)]).map_err(|e| failure_response("fetch point", e))?;
    match rows.rows.into_iter().next() {
        None => Ok(None),
        Some(row) => from_row(row)
            .map(Some)
            .ok_or_else(|| unexpected("malformed point row")),
    }
}

/// Deletes a point; false when there was none.
pub fn delete(id: i64) -> Result<bool, Response> {
    let affected =
        db::execute(DELETE, &[Value::Int(id)]).map_err(|e| failure_response("delete point", e))?;
    Ok(affected > 0)
}

fn from_row(row: Vec<Value>) -> Option<Point> {
    let mut cells = row.into_iter();
    let (Some(Value::Int(id)), Some(Value::Text(name)), Some(Value::Geometry(geom))) =
        (cells.next(), cells.next(), cells.next())
    else {
        return None;
    };
    let (longitude, latitude) = point_xy(&geom)?;
    Some(Point {
        id,
        name,
        longitude,
        latitude,
    })
}

fn unexpected(what: &str) -> Response {
    geofn_guest::http::Problem::new(500, "internal", "Internal error", what).into_response()
}
