//! OGC API's `numberMatched`, only when it is cheap to know, so an items
//! page costs a page however large the table: the page itself when a first
//! page holds every match, else a count capped at [`COUNT_CAP`] when the
//! planner's estimate is under it; left out otherwise, as the standard
//! allows.

use geofn_guest::db::{self, Value};
use geofn_guest::error::Result;

use crate::filter::Query;
use crate::store::{Columns, Page, internal, listing_sql};

/// `numberMatched` is counted exactly up to this many matches and left
/// out beyond (OGC API – Features allows it), so a page costs at most a
/// capped count however large the table.
pub const COUNT_CAP: i64 = 10_000;

/// `FROM points WHERE …` of `query` over all pages (its cursor ignored),
/// and its parameters. Only filters without `near` (OGC API's
/// `numberMatched`).
fn matches_sql(query: &Query) -> (String, Vec<Value>) {
    let unpaged = Query {
        cursor: None,
        near: None,
        limit: 0,
        ..query.clone()
    };
    let (listing, mut params) = listing_sql(&unpaged, Columns::Geometry);
    // Reuse the listing's filter; drop its ORDER BY / LIMIT and their parameter.
    let filter_end = listing.find(" ORDER BY").unwrap_or(listing.len());
    let from = listing.find(" FROM points").unwrap_or(0);
    params.pop();
    (listing[from..filter_end].to_owned(), params)
}

/// Counts what `query` matches, up to [`COUNT_CAP`] + 1 rows: more than
/// the cap means "too many to count".
pub fn count_sql(query: &Query) -> (String, Vec<Value>) {
    let (matches, params) = matches_sql(query);
    let cap = COUNT_CAP + 1;
    (
        format!("SELECT count(*) FROM (SELECT 1{matches} LIMIT {cap}) AS matched"),
        params,
    )
}

/// The planner's estimate of what `query` matches: an EXPLAIN, no row read.
/// A capped count is no cheaper when matches are many (a bitmap index scan
/// reads every match before the LIMIT applies), so many are not counted.
pub fn estimate_sql(query: &Query) -> (String, Vec<Value>) {
    let (matches, params) = matches_sql(query);
    (format!("EXPLAIN (FORMAT JSON) SELECT 1{matches}"), params)
}

/// `numberMatched` for `page` of `query`, when it is cheap to know: the
/// page itself when a first page holds every match, else a count capped at
/// [`COUNT_CAP`] on first pages whose matches the planner puts under the
/// cap; `None` (left out) otherwise and on the pages a cursor reaches,
/// which clients page through rather than count.
pub fn number_matched(query: &Query, page: &Page) -> Result<Option<i64>> {
    if query.cursor.is_some() {
        return Ok(None);
    }
    if page.next.is_none() {
        return Ok(Some(page.points.len() as i64));
    }
    if estimate(query)? > COUNT_CAP as f64 {
        return Ok(None);
    }
    let (sql, params) = count_sql(query);
    let rows = db::query(&sql, &params)?;
    match rows.rows.first().and_then(|r| r.first()) {
        Some(Value::Int(n)) => Ok((*n <= COUNT_CAP).then_some(*n)),
        _ => Err(internal("count returned no number")),
    }
}

/// The planner's row estimate for what `query` matches.
fn estimate(query: &Query) -> Result<f64> {
    let (sql, params) = estimate_sql(query);
    let rows = db::query(&sql, &params)?;
    let plan = match rows.rows.first().and_then(|r| r.first()) {
        Some(Value::Json(text) | Value::Text(text)) => serde_json::from_str(text)
            .map_err(|e| internal(&format!("EXPLAIN answered no JSON: {e}")))?,
        _ => return Err(internal("EXPLAIN answered no plan")),
    };
    plan_rows(&plan).ok_or_else(|| internal("EXPLAIN's plan has no row estimate"))
}

/// `Plan Rows` of the top node of an `EXPLAIN (FORMAT JSON)` answer.
fn plan_rows(plan: &serde_json::Value) -> Option<f64> {
    plan.get(0)?.get("Plan")?.get("Plan Rows")?.as_f64()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cursor::Cursor;
    use crate::filter::Bbox;

    #[test]
    fn counts_are_capped_and_estimates_read_no_row() {
        let boxed = Query {
            bbox: Some(Bbox {
                min_lon: 2.0,
                min_lat: 48.0,
                max_lon: 3.0,
                max_lat: 49.0,
            }),
            cursor: Some(Cursor::Before { id: 99 }),
            ..Query::first_ten()
        };
        let (count, params) = count_sql(&boxed);
        assert_eq!(
            count,
            "SELECT count(*) FROM (SELECT 1 FROM points WHERE geom && \
             ST_MakeEnvelope($3, $1, $4, $2, 4326) LIMIT 10001) AS matched"
        );
        assert_eq!(params.len(), 4, "the cursor is not counted");
        let (estimate, params) = estimate_sql(&boxed);
        assert_eq!(
            estimate,
            "EXPLAIN (FORMAT JSON) SELECT 1 FROM points WHERE geom && \
             ST_MakeEnvelope($3, $1, $4, $2, 4326)"
        );
        assert_eq!(params.len(), 4);
    }

    #[test]
    fn the_row_estimate_is_the_top_plan_nodes() {
        let plan = serde_json::json!([{"Plan": {"Node Type": "Seq Scan", "Plan Rows": 15836,
            "Plans": [{"Plan Rows": 3}]}}]);
        assert_eq!(plan_rows(&plan), Some(15836.0));
        assert_eq!(plan_rows(&serde_json::json!({"Plan": {}})), None);
    }
}
