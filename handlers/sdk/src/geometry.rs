//! EWKB points: what `db::Value::Geometry` carries for point columns, in
//! the layout the host reads too (`geofn_contract::ewkb`).

pub use geofn_contract::ewkb::{WGS84, point_xy};

/// A 2D point in EWKB with the given SRID.
pub fn point_ewkb(x: f64, y: f64, srid: i32) -> Vec<u8> {
    geofn_contract::ewkb::point(x, y, srid)
}
