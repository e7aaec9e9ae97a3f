//! The `packed-rows` layout of `db.query-packed` (see `wit/handler.wit`):
//! cells one after another, each a tag byte (the case of `db.value` in
//! declaration order) and its payload — none for null, one byte for a
//! boolean, eight little-endian bytes for int and float, and for the others
//! a four-byte little-endian length and that many bytes.
//!
//! The host writes cells with [`Cell::write`]; guests read them in place
//! with [`Cells`], without an allocation per cell.

/// Tag bytes: the case index of `db.value`.
pub mod tag {
    /// SQL NULL.
    pub const NULL: u8 = 0;
    /// A boolean, one byte.
    pub const BOOLEAN: u8 = 1;
    /// A 64-bit integer, little-endian two's complement.
    pub const INT: u8 = 2;
    /// A 64-bit IEEE 754 float, little-endian.
    pub const FLOAT: u8 = 3;
    /// UTF-8 text.
    pub const TEXT: u8 = 4;
    /// Bytes.
    pub const BYTES: u8 = 5;
    /// JSON text.
    pub const JSON: u8 = 6;
    /// EWKB.
    pub const GEOMETRY: u8 = 7;
    /// RFC 3339 text.
    pub const TIMESTAMP: u8 = 8;
}

/// One cell: a `db.value` case, borrowing its bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell<'a> {
    /// SQL NULL.
    Null,
    /// boolean
    Boolean(bool),
    /// smallint, integer, bigint
    Int(i64),
    /// real, double precision
    Float(f64),
    /// text, varchar, char, name
    Text(&'a str),
    /// bytea
    Bytes(&'a [u8]),
    /// json, jsonb
    Json(&'a str),
    /// geometry, geography: EWKB as PostGIS sends it.
    Geometry(&'a [u8]),
    /// timestamp, timestamptz: RFC 3339.
    Timestamp(&'a str),
}

/// Bytes that do not follow the layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed(pub String);

impl std::fmt::Display for Malformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "malformed packed rows: {}", self.0)
    }
}

impl std::error::Error for Malformed {}

impl Cell<'_> {
    /// Appends this cell to `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        let mut bytes = |tag: u8, payload: &[u8]| {
            out.push(tag);
            // A cell comes from one PostgreSQL field, which is below 1 GiB.
            let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(payload);
        };
        match *self {
            Cell::Null => out.push(tag::NULL),
            Cell::Boolean(b) => out.extend_from_slice(&[tag::BOOLEAN, u8::from(b)]),
            Cell::Int(n) => {
                out.push(tag::INT);
                out.extend_from_slice(&n.to_le_bytes());
            }
            Cell::Float(f) => {
                out.push(tag::FLOAT);
                out.extend_from_slice(&f.to_le_bytes());
            }
            Cell::Text(s) => bytes(tag::TEXT, s.as_bytes()),
            Cell::Bytes(b) => bytes(tag::BYTES, b),
            Cell::Json(s) => bytes(tag::JSON, s.as_bytes()),
            Cell::Geometry(g) => bytes(tag::GEOMETRY, g),
            Cell::Timestamp(t) => bytes(tag::TIMESTAMP, t.as_bytes()),
        }
    }
}

/// The cells of a buffer, in order, read in place.
#[derive(Debug, Clone)]
pub struct Cells<'a> {
    rest: &'a [u8],
}

impl<'a> Cells<'a> {
    /// The cells of `buffer`.
    pub fn new(buffer: &'a [u8]) -> Self {
        Self { rest: buffer }
    }

    /// Whether every byte has been read.
    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Malformed> {
        if self.rest.len() < n {
            return Err(Malformed(format!(
                "{n} bytes expected, {} left",
                self.rest.len()
            )));
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn fixed<const N: usize>(&mut self) -> Result<[u8; N], Malformed> {
        let bytes = self.take(N)?;
        let mut out = [0; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    fn sized(&mut self) -> Result<&'a [u8], Malformed> {
        let len = u32::from_le_bytes(self.fixed()?) as usize;
        self.take(len)
    }

    fn text(&mut self) -> Result<&'a str, Malformed> {
        std::str::from_utf8(self.sized()?).map_err(|e| Malformed(format!("text is not UTF-8: {e}")))
    }

    /// The next cell, or `None` at the end of the buffer.
    pub fn next_cell(&mut self) -> Option<Result<Cell<'a>, Malformed>> {
        let (&tag, rest) = self.rest.split_first()?;
        self.rest = rest;
        Some(match tag {
            tag::NULL => Ok(Cell::Null),
            tag::BOOLEAN => self.fixed::<1>().map(|[b]| Cell::Boolean(b != 0)),
            tag::INT => self.fixed().map(|b| Cell::Int(i64::from_le_bytes(b))),
            tag::FLOAT => self.fixed().map(|b| Cell::Float(f64::from_le_bytes(b))),
            tag::TEXT => self.text().map(Cell::Text),
            tag::BYTES => self.sized().map(Cell::Bytes),
            tag::JSON => self.text().map(Cell::Json),
            tag::GEOMETRY => self.sized().map(Cell::Geometry),
            tag::TIMESTAMP => self.text().map(Cell::Timestamp),
            other => Err(Malformed(format!("unknown cell tag {other}"))),
        })
    }
}

impl<'a> Iterator for Cells<'a> {
    type Item = Result<Cell<'a>, Malformed>;

    fn next(&mut self) -> Option<Self::Item> {
        let cell = self.next_cell();
        if matches!(cell, Some(Err(_))) {
            // Nothing after a malformed cell can be trusted.
            self.rest = &[];
        }
        cell
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// An owned cell, for generating arbitrary rows.
    #[derive(Debug, Clone)]
    enum Owned {
        Null,
        Boolean(bool),
        Int(i64),
        Float(f64),
        Text(String),
        Bytes(Vec<u8>),
        Json(String),
        Geometry(Vec<u8>),
        Timestamp(String),
    }

    impl Owned {
        fn cell(&self) -> Cell<'_> {
            match self {
                Owned::Null => Cell::Null,
                Owned::Boolean(b) => Cell::Boolean(*b),
                Owned::Int(n) => Cell::Int(*n),
                Owned::Float(f) => Cell::Float(*f),
                Owned::Text(s) => Cell::Text(s),
                Owned::Bytes(b) => Cell::Bytes(b),
                Owned::Json(s) => Cell::Json(s),
                Owned::Geometry(g) => Cell::Geometry(g),
                Owned::Timestamp(t) => Cell::Timestamp(t),
            }
        }
    }

    fn owned() -> impl Strategy<Value = Owned> {
        prop_oneof![
            Just(Owned::Null),
            any::<bool>().prop_map(Owned::Boolean),
            any::<i64>().prop_map(Owned::Int),
            any::<f64>()
                .prop_filter("NaN never equals itself", |f| !f.is_nan())
                .prop_map(Owned::Float),
            any::<String>().prop_map(Owned::Text),
            proptest::collection::vec(any::<u8>(), 0..64).prop_map(Owned::Bytes),
            any::<String>().prop_map(Owned::Json),
            proptest::collection::vec(any::<u8>(), 0..64).prop_map(Owned::Geometry),
            any::<String>().prop_map(Owned::Timestamp),
        ]
    }

    proptest! {
        #[test]
        fn any_cells_round_trip(cells in proptest::collection::vec(owned(), 0..32)) {
            let mut buffer = Vec::new();
            for cell in &cells {
                cell.cell().write(&mut buffer);
            }
            let read: Vec<Cell<'_>> = Cells::new(&buffer).collect::<Result<_, _>>().unwrap();
            let written: Vec<Cell<'_>> = cells.iter().map(Owned::cell).collect();
            prop_assert_eq!(read, written);
        }

        #[test]
        fn garbage_is_refused_not_panicked_on(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            for cell in Cells::new(&bytes) {
                let _ = cell;
            }
        }
    }

    #[test]
    fn truncation_and_unknown_tags_are_malformed() {
        let mut buffer = Vec::new();
        Cell::Text("hello").write(&mut buffer);
        buffer.pop();
        assert!(Cells::new(&buffer).next().unwrap().is_err());
        assert!(Cells::new(&[42]).next().unwrap().is_err());
    }
}
