//! Result rows rendered as one JSON array (`db.query-json`): an object per
//! row, its columns as members in select-list order.
//!
//! The guest gets a finished response body instead of cells to convert one
//! by one; for a handler in an interpreted language that per-cell work,
//! float formatting above all, is most of a listing request's time.
//! Floats are written as serde_json writes them (shortest round-trip text,
//! always with a fraction or an exponent), so a body rendered here reads
//! the same as one a Rust handler serialises itself.

use serde::Serialize;
use tokio_postgres::{Column, Row};

use geofn_contract::packed::Cell;

use crate::decode::{Decoded, cell};
use crate::value::DbError;

/// Bytes reserved per row up front: a point row (id, name, two
/// coordinates) renders in about 80.
const RESERVED_PER_ROW: usize = 96;

/// `rows` as a JSON array of objects keyed by `columns`' names.
pub fn render(columns: &[Column], rows: &[Row]) -> Result<Vec<u8>, DbError> {
    let keys: Vec<Vec<u8>> = columns
        .iter()
        .enumerate()
        .map(|(idx, column)| {
            let mut key = Vec::with_capacity(column.name().len() + 4);
            if idx > 0 {
                key.push(b',');
            }
            write_json(&mut key, column.name());
            key.push(b':');
            key
        })
        .collect();
    let mut out = Vec::with_capacity(2 + rows.len() * RESERVED_PER_ROW);
    out.push(b'[');
    for (n, row) in rows.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        out.push(b'{');
        for (idx, key) in keys.iter().enumerate() {
            out.extend_from_slice(key);
            match cell(row, idx)? {
                Decoded::Cell(value) => {
                    if !write_cell(value, &mut out) {
                        return Err(no_json_form(&columns[idx]));
                    }
                }
                Decoded::Timestamp(text) => write_json(&mut out, &text),
            }
        }
        out.push(b'}');
    }
    out.push(b']');
    Ok(out)
}

/// Appends one cell as a JSON value; false for bytea and geometry, which
/// have no single obvious JSON form and are left for the handler's SQL to
/// shape.
fn write_cell(value: Cell<'_>, out: &mut Vec<u8>) -> bool {
    match value {
        Cell::Null => out.extend_from_slice(b"null"),
        Cell::Boolean(b) => write_json(out, &b),
        Cell::Int(n) => write_json(out, &n),
        // serde_json writes NaN and the infinities as null.
        Cell::Float(f) => write_json(out, &f),
        Cell::Text(text) | Cell::Timestamp(text) => write_json(out, text),
        // PostgreSQL has checked it is JSON: copied as it is stored.
        Cell::Json(text) => out.extend_from_slice(text.as_bytes()),
        Cell::Bytes(_) | Cell::Geometry(_) => return false,
    }
    true
}

fn no_json_form(column: &Column) -> DbError {
    DbError::UnsupportedType(format!(
        "column {:?} ({}) has no JSON form in query-json; shape it in SQL \
         (ST_AsGeoJSON(geom)::json, ST_X(geom), encode(data, 'base64'))",
        column.name(),
        column.type_().name()
    ))
}

/// Appends `value` as JSON. Writing into a `Vec` cannot fail, and the
/// values written here (strings, numbers, booleans) always serialise.
fn write_json(out: &mut Vec<u8>, value: &(impl Serialize + ?Sized)) {
    serde_json::to_writer(out, value).expect("a string, number or boolean serialises into a Vec");
}

#[cfg(test)]
mod tests {
    use super::{Cell, write_cell};

    fn rendered(value: Cell<'_>) -> Option<String> {
        let mut out = Vec::new();
        write_cell(value, &mut out).then(|| String::from_utf8(out).unwrap())
    }

    #[test]
    fn floats_read_back_as_the_same_double_and_stay_floats() {
        assert_eq!(rendered(Cell::Float(2.3522)).unwrap(), "2.3522");
        assert_eq!(rendered(Cell::Float(-180.0)).unwrap(), "-180.0");
        assert_eq!(
            rendered(Cell::Float(0.1 + 0.2)).unwrap(),
            "0.30000000000000004"
        );
        assert_eq!(
            rendered(Cell::Float(1e-7)).unwrap().parse::<f64>().unwrap(),
            1e-7
        );
        assert_eq!(rendered(Cell::Float(f64::NAN)).unwrap(), "null");
        assert_eq!(rendered(Cell::Float(f64::NEG_INFINITY)).unwrap(), "null");
    }

    #[test]
    fn text_is_escaped_and_json_is_copied() {
        assert_eq!(
            rendered(Cell::Text("a \"quoted\"\n zoë")).unwrap(),
            r#""a \"quoted\"\n zoë""#
        );
        assert_eq!(
            rendered(Cell::Json(r#"{"a": [1, 2]}"#)).unwrap(),
            r#"{"a": [1, 2]}"#
        );
        assert_eq!(rendered(Cell::Int(i64::MIN)).unwrap(), i64::MIN.to_string());
        assert_eq!(rendered(Cell::Null).unwrap(), "null");
    }

    #[test]
    fn bytes_and_geometries_are_left_to_sql() {
        assert_eq!(rendered(Cell::Bytes(&[1, 2])), None);
        assert_eq!(rendered(Cell::Geometry(&[1, 2])), None);
    }
}
