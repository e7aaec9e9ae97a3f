//! What a handler declares filters may name: its queryables.

/// What a queryable holds, which decides what it may be compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    String,
    Integer,
    Number,
    Boolean,
    /// A `timestamptz` column: an instant.
    Timestamp,
    /// A geometry column in WGS 84 longitude/latitude (SRID 4326).
    Geometry,
}

/// A property clients may filter on, and the column it reads.
#[derive(Debug, Clone, Copy)]
pub struct Queryable {
    /// The name in filters and in `/queryables`.
    pub name: &'static str,
    /// The column of the handler's table; written into SQL quoted.
    pub column: &'static str,
    pub kind: Type,
    pub title: &'static str,
}

impl Queryable {
    pub const fn new(
        name: &'static str,
        column: &'static str,
        kind: Type,
        title: &'static str,
    ) -> Self {
        Queryable {
            name,
            column,
            kind,
            title,
        }
    }
}
