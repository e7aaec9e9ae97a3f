//! Keyset cursors: where the previous page ended, so the next one starts
//! after it with an index seek instead of an OFFSET scan, and rows inserted
//! meanwhile neither shift nor repeat what the client already has.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The last row of a page, in the order of its query.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cursor {
    /// Newest-first listing: continue with ids below this one.
    Before {
        /// Last id served.
        id: i64,
    },
    /// Nearest-first listing: continue after this (distance, id).
    After {
        /// Distance of the last row served, in metres, bit for bit.
        distance: f64,
        /// Its id, breaking ties.
        id: i64,
    },
}

impl Cursor {
    /// Opaque, URL-safe text.
    pub fn encode(&self) -> String {
        let plain = match self {
            Cursor::Before { id } => format!("b:{id}"),
            // `{:?}` prints the shortest text that parses back to the same f64.
            Cursor::After { distance, id } => format!("a:{distance:?}:{id}"),
        };
        URL_SAFE_NO_PAD.encode(plain)
    }

    /// Parses what [`encode`](Self::encode) produced; `None` for anything else.
    pub fn decode(text: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
        let plain = std::str::from_utf8(&bytes).ok()?;
        let mut parts = plain.split(':');
        let cursor = match (parts.next()?, parts.next(), parts.next()) {
            ("b", Some(id), None) => Cursor::Before {
                id: id.parse().ok()?,
            },
            ("a", Some(distance), Some(id)) => {
                let distance: f64 = distance.parse().ok()?;
                if !distance.is_finite() || distance < 0.0 {
                    return None;
                }
                Cursor::After {
                    distance,
                    id: id.parse().ok()?,
                }
            }
            _ => return None,
        };
        parts.next().is_none().then_some(cursor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_exactly() {
        for cursor in [
            Cursor::Before { id: 42 },
            Cursor::After {
                distance: 0.1 + 0.2,
                id: 7,
            },
            Cursor::After {
                distance: 12_345_678.901_234_5,
                id: i64::MAX,
            },
        ] {
            assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
        }
    }

    #[test]
    fn garbage_is_not_a_cursor() {
        for text in ["", "!!", "Yjo", "YjpYWA", "YTpOYU46MQ"] {
            assert_eq!(Cursor::decode(text), None, "{text}");
        }
    }
}
