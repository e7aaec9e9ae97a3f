//! The writes of the points API; reads live in `pointquery`, shared with
//! the OGC API handler.

use geofn_guest::db::Value;
use geofn_guest::error::{Error, Result};
use geofn_guest::geometry::{WGS84, point_ewkb};
use geofn_guest::sql;
use serde::Deserialize;

use crate::input::NewPoint;

/// Returns the stored point in the guide's wire format, rendered by the host.
const INSERT: &str = "INSERT INTO points (name, geom) VALUES ($1, $2) \
                      RETURNING id, name, ST_X(geom) AS longitude, ST_Y(geom) AS latitude";
const DELETE: &str = "DELETE FROM points WHERE id = $1";

/// A stored point: its id (for `Location`) and its JSON object, the body.
pub struct Created {
    pub id: i64,
    pub body: Vec<u8>,
}

/// Inserts a point; when this returns the row is committed.
pub fn insert(point: &NewPoint) -> Result<Created> {
    let params = [
        Value::Text(point.name.clone()),
        Value::Geometry(point_ewkb(point.longitude, point.latitude, WGS84)),
    ];
    created(sql::query_json(INSERT, &params)?)
}

/// `[{"id":…,…}]` → the object and its id.
fn created(mut rows: Vec<u8>) -> Result<Created> {
    #[derive(Deserialize)]
    struct Id {
        id: i64,
    }
    let malformed = || {
        Error::new(
            500,
            "internal",
            "Internal error",
            "insert returned no point",
        )
    };
    if !(rows.starts_with(b"[{") && rows.ends_with(b"}]")) {
        return Err(malformed());
    }
    rows.pop();
    rows.remove(0);
    let Id { id } = serde_json::from_slice(&rows).map_err(|_| malformed())?;
    Ok(Created { id, body: rows })
}

/// Deletes a point; false when there was none.
pub fn delete(id: i64) -> Result<bool> {
    Ok(sql::execute(DELETE, &[Value::Int(id)])? > 0)
}

#[cfg(test)]
mod tests {
    use super::created;

    #[test]
    fn the_returned_row_is_the_body() {
        let row = br#"{"id":42,"name":"a \"}]\" b","longitude":2.35,"latitude":48.85}"#;
        let created = created([&b"["[..], row, b"]"].concat()).unwrap();
        assert_eq!(created.id, 42);
        assert_eq!(created.body, row);
        assert!(super::created(b"[]".to_vec()).is_err());
    }
}
