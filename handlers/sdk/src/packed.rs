//! Reading `db::query-packed` results: the cells are read in place from the
//! one buffer the host filled, with no allocation per cell.
//!
//! ```ignore
//! let rows = geofn_guest::packed::query("SELECT id, name FROM points", &[])?;
//! let names = rows.map_rows(|cells| match cells {
//!     [Cell::Int(id), Cell::Text(name)] => Some((*id, name.to_string())),
//!     _ => None,
//! })?;
//! ```

use crate::wit::db::{self, DbError, Value};

use geofn_contract::packed::Cells;
pub use geofn_contract::packed::{Cell, Malformed};

/// A `query` value seen as a cell, so code can read both results alike.
impl<'a> From<&'a Value> for Cell<'a> {
    fn from(value: &'a Value) -> Self {
        match value {
            Value::Null => Cell::Null,
            Value::Boolean(b) => Cell::Boolean(*b),
            Value::Int(n) => Cell::Int(*n),
            Value::Float(f) => Cell::Float(*f),
            Value::Text(s) => Cell::Text(s),
            Value::Bytes(b) => Cell::Bytes(b),
            Value::Json(s) => Cell::Json(s),
            Value::Geometry(g) => Cell::Geometry(g),
            Value::Timestamp(t) => Cell::Timestamp(t),
        }
    }
}

/// The rows of one statement.
#[derive(Debug)]
pub struct Rows(db::PackedRows);

/// Runs a row-returning statement with its rows packed into one buffer.
pub fn query(sql: &str, params: &[Value]) -> Result<Rows, DbError> {
    db::query_packed(sql, params).map(Rows)
}

impl Rows {
    /// Column names, in select-list order.
    pub fn columns(&self) -> &[String] {
        &self.0.columns
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.0.count as usize
    }

    /// Whether the statement returned no row.
    pub fn is_empty(&self) -> bool {
        self.0.count == 0
    }

    /// Calls `f` with the cells of each row in turn and collects what it
    /// returns; a row `f` answers `None` for is reported as malformed.
    pub fn map_rows<'a, T>(
        &'a self,
        mut f: impl FnMut(&[Cell<'a>]) -> Option<T>,
    ) -> Result<Vec<T>, Malformed> {
        let width = self.0.columns.len();
        let mut reader = Cells::new(&self.0.cells);
        let mut cells = Vec::with_capacity(width);
        let mut out = Vec::with_capacity(self.len());
        for row in 0..self.len() {
            cells.clear();
            for _ in 0..width {
                let cell = reader
                    .next_cell()
                    .ok_or_else(|| Malformed("cells end inside a row".to_owned()))??;
                cells.push(cell);
            }
            out.push(f(&cells).ok_or_else(|| Malformed(format!("row {row} has another shape")))?);
        }
        if !reader.is_empty() {
            return Err(Malformed("bytes after the last row".to_owned()));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(columns: &[&str], count: u32, cells: Vec<u8>) -> Rows {
        Rows(db::PackedRows {
            columns: columns.iter().map(|c| c.to_string()).collect(),
            count,
            cells,
        })
    }

    #[test]
    fn cells_are_read_in_place() {
        let mut cells = vec![2];
        cells.extend_from_slice(&7i64.to_le_bytes());
        cells.extend_from_slice(&[4, 2, 0, 0, 0, b'h', b'i', 0]);
        cells.extend_from_slice(&[1, 1, 7, 1, 0, 0, 0, 9, 0]);
        let rows = rows(&["a", "b", "c"], 2, cells);
        let seen = rows.map_rows(|cells| Some(cells.to_vec())).unwrap();
        assert_eq!(
            seen,
            [
                vec![Cell::Int(7), Cell::Text("hi"), Cell::Null],
                vec![Cell::Boolean(true), Cell::Geometry(&[9]), Cell::Null],
            ]
        );
    }

    #[test]
    fn a_row_of_another_shape_is_malformed() {
        let rows = rows(&["a"], 1, vec![0]);
        assert!(
            rows.map_rows(|cells| match cells {
                [Cell::Int(_)] => Some(()),
                _ => None,
            })
            .is_err()
        );
    }

    #[test]
    fn truncated_and_trailing_bytes_are_malformed() {
        assert!(
            rows(&["a"], 1, vec![2, 1, 2])
                .map_rows(|_| Some(()))
                .is_err()
        );
        assert!(rows(&["a"], 1, vec![0, 0]).map_rows(|_| Some(())).is_err());
        assert!(rows(&["a"], 1, vec![9]).map_rows(|_| Some(())).is_err());
        assert!(
            rows(&["a"], 1, vec![4, 1, 0, 0, 0, 0xff])
                .map_rows(|_| Some(()))
                .is_err()
        );
    }
}
