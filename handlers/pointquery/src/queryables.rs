//! The properties of a point that OGC API – Features filters may name
//! (Part 3's queryables), each bound to its column of `points`.

use geofn_guest::cql2::{Queryable, Type};

/// What `filter` and queryable parameters (`name=Paris`) may name; the
/// `/queryables` document lists the same.
pub const POINTS: &[Queryable] = &[
    Queryable::new("name", "name", Type::String, "Name"),
    Queryable::new("id", "id", Type::Integer, "Feature id"),
    Queryable::new(
        "created_at",
        "created_at",
        Type::Timestamp,
        "When it was stored",
    ),
    Queryable::new("geometry", "geom", Type::Geometry, "Location"),
];
