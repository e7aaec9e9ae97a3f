//! Listings whose rows the host renders (`db.query-json`), so the guest
//! never decodes a cell: the page's body arrives as the response body.
//!
//! The select list names the columns as the guide's wire format does, and
//! the host writes numbers and strings as serde_json does, so the array is
//! byte for byte what serialising [`crate::Point`]s would give. The guest
//! only looks for the row boundaries it needs: the extra row that says a
//! next page exists, and the last row the cursor is made from.

use geofn_guest::error::Result;
use geofn_guest::sql;
use memchr::memmem;
use serde::Deserialize;

use crate::cursor::Cursor;
use crate::filter::Query;
use crate::store::{Columns, internal, listing_sql};

/// A page as a JSON array of points, and where the next starts.
#[derive(Debug)]
pub struct RenderedPage {
    pub body: Vec<u8>,
    pub next: Option<Cursor>,
}

/// The start of every row: `id` is the first column, and `{"id":` cannot
/// occur inside a JSON string (its quote would be escaped).
const ROW_START: &[u8] = b"{\"id\":";

/// Runs a listing, rendered by the host.
pub fn fetch(query: &Query) -> Result<RenderedPage> {
    let (sql, params) = listing_sql(query, Columns::Wire);
    paged(sql::query_json(&sql, &params)?, query.limit)
}

/// The member a cursor continues from; the others are skipped unread.
#[derive(Deserialize)]
struct Id {
    id: i64,
}

/// The key of the distance: like `{"id":`, it cannot occur inside a string.
const DISTANCE: &[u8] = b"\"distance_m\":";

/// The row's distance, read with Rust's correctly rounded parser: serde_json's
/// default one may land an ULP away, and a cursor an ULP before the row it
/// was made from serves that row again.
fn distance_of(row: &[u8]) -> Option<Option<f64>> {
    let Some(at) = memmem::find(row, DISTANCE) else {
        return Some(None);
    };
    let text = &row[at + DISTANCE.len()..];
    let end = text.iter().position(|b| matches!(b, b',' | b'}'))?;
    let number = std::str::from_utf8(&text[..end]).ok()?;
    number.parse().ok().map(Some)
}

/// Where each row starts, in order. A search for the row's first byte, then
/// a look at the next five: in wasm without SIMD, `memchr`'s word-at-a-time
/// search for one byte is several times faster than `memmem`'s for six (a
/// page of 100 rows: 10 us of the guest's time went to finding them).
fn row_starts(body: &[u8]) -> impl Iterator<Item = usize> + '_ {
    memchr::memchr_iter(ROW_START[0], body).filter(move |&at| body[at..].starts_with(ROW_START))
}

/// Where the last row starts.
fn last_row_start(body: &[u8]) -> Option<usize> {
    memchr::memrchr_iter(ROW_START[0], body).find(|&at| body[at..].starts_with(ROW_START))
}

/// Drops the row past `limit` (the listing asks for one more) and makes
/// the cursor from the last row kept when it was there.
fn paged(mut body: Vec<u8>, limit: i64) -> Result<RenderedPage> {
    let malformed = || internal("malformed rendered listing");
    let limit = usize::try_from(limit).map_err(|_| malformed())?;
    let Some(extra) = row_starts(&body).nth(limit) else {
        return Ok(RenderedPage { body, next: None });
    };
    // `[…,{"id":` → `[…]`: the comma before the extra row becomes the end.
    body.truncate(extra);
    match body.last_mut() {
        Some(comma @ b',') => *comma = b']',
        _ => return Err(malformed()),
    }
    let last = last_row_start(&body).ok_or_else(malformed)?;
    let row = &body[last..body.len() - 1];
    let Id { id } = serde_json::from_slice(row).map_err(|_| malformed())?;
    let next = match distance_of(row).ok_or_else(malformed)? {
        Some(distance) => Cursor::After { distance, id },
        None => Cursor::Before { id },
    };
    Ok(RenderedPage {
        body,
        next: Some(next),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Point;

    /// What the host renders for these points: serde_json's text.
    fn rendered(points: &[Point]) -> Vec<u8> {
        serde_json::to_vec(points).unwrap()
    }

    fn point(id: i64, name: &str, distance_m: Option<f64>) -> Point {
        Point {
            id,
            name: name.to_owned(),
            longitude: 2.35,
            latitude: 48.85,
            distance_m,
        }
    }

    #[test]
    fn a_short_page_is_answered_whole_with_no_cursor() {
        for n in 0..=3 {
            let points: Vec<_> = (0..n).map(|id| point(id, "p", None)).collect();
            let page = paged(rendered(&points), 3).unwrap();
            assert_eq!(page.body, rendered(&points));
            assert!(page.next.is_none());
        }
    }

    #[test]
    fn the_extra_row_is_dropped_and_the_cursor_is_the_last_kept() {
        // Names that look like rows must not be taken for boundaries.
        let points = [
            point(9, "{\"id\":1}", None),
            point(8, ",{\"id\":", None),
            point(7, "extra", None),
        ];
        let page = paged(rendered(&points), 2).unwrap();
        assert_eq!(page.body, rendered(&points[..2]));
        assert!(matches!(page.next, Some(Cursor::Before { id: 8 })));
    }

    #[test]
    fn nearest_first_pages_continue_after_the_last_distance() {
        let points = [
            point(4, "a", Some(0.0)),
            point(2, "b", Some(12.5)),
            point(3, "c", Some(20.0)),
        ];
        let page = paged(rendered(&points), 2).unwrap();
        assert_eq!(page.body, rendered(&points[..2]));
        assert!(matches!(
            page.next,
            Some(Cursor::After { distance, id: 2 }) if distance == 12.5
        ));
    }

    #[test]
    fn distances_come_back_to_the_bit() {
        // Awkward doubles: long shortest texts, tiny and huge exponents.
        let mut distance = 1_234_567.891_011_f64;
        for _ in 0..10_000 {
            distance =
                f64::from_bits(distance.to_bits().wrapping_mul(6_364_136_223_846_793_005) >> 1);
            if !distance.is_finite() {
                continue;
            }
            let points = [point(2, "b", Some(distance)), point(1, "c", Some(distance))];
            let page = paged(rendered(&points), 1).unwrap();
            assert!(
                matches!(page.next, Some(Cursor::After { distance: d, id: 2 }) if d.to_bits() == distance.to_bits()),
                "{distance:e}"
            );
        }
    }
}
