//! Keeping a cell [`Summary`] current: the schedule's refresh, which merges new
//! points into the cells or rebuilds them beside the old ones.

use super::summary::Summary;
use super::{HALF_WORLD, ident};
use crate::error::Result;
use crate::tx::{Tx, transaction};
use crate::wit::db::Value;

/// What a refresh did, for the schedule's answer and its log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refreshed {
    /// The cells were (re)built from every point.
    Rebuilt {
        /// Points counted.
        points: i64,
    },
    /// The points added since the last refresh were merged in.
    Merged {
        /// Points merged.
        points: i64,
    },
    /// Nothing had changed.
    Current,
    /// Another refresh holds the cells; this one did nothing.
    Busy,
}

impl Summary {
    /// Brings the cells up to date with the points: merges the points
    /// added since the last refresh (at most [`MERGE_CHUNK`] a time, or
    /// rebuilds when most are new), and, once `recount_secs` passed since
    /// the last count, counts the points to find out whether some went
    /// away, rebuilding every cell when they did (a count reads the whole
    /// table: ~0.1 s per million rows; [`RECOUNT_SECS`] is a fair period).
    /// One transaction; a refresh already running makes this one a no-op.
    pub fn refresh(&self, recount_secs: u32) -> Result<Refreshed> {
        transaction(|tx| {
            // Ticks may overlap when one runs long: the second does nothing.
            // Readers never wait for a refresh (MVCC).
            let locked = tx.query(
                "SELECT pg_try_advisory_xact_lock(hashtext('geofn tile summary'), \
                 hashtext(current_schema() || '.' || $1)) AS locked",
                &[Value::Text(self.cells.into())],
            )?;
            let locked = locked.first().map(|row| row.get::<bool>("locked"));
            if !matches!(locked, Some(Ok(true))) {
                return Ok(Refreshed::Busy);
            }
            let (table, id) = (ident(self.layer.table), ident(self.layer.id));
            let state = ident(self.state);
            let seen = tx.query(
                &format!(
                    "SELECT s.through, s.points, \
                     (SELECT count(*) FROM {table} AS t WHERE t.{id} > s.through) AS added, \
                     CASE WHEN s.counted_at <= now() - make_interval(secs => {recount_secs}) \
                     THEN (SELECT count(*) FROM {table}) ELSE -1 END AS total \
                     FROM {state} AS s"
                ),
                &[],
            )?;
            let Some(seen) = seen.first() else {
                return self.rebuild(tx);
            };
            let (through, points, added, total) = (
                seen.get::<i64>("through")?,
                seen.get::<i64>("points")?,
                seen.get::<i64>("added")?,
                seen.get::<i64>("total")?,
            );
            let counted = (total >= 0).then_some(total);
            let step = next_step(points, added, counted);
            if step == Step::Rebuild {
                return self.rebuild(tx);
            }
            if counted.is_some() {
                tx.execute(&format!("UPDATE {state} SET counted_at = now()"), &[])?;
            }
            if step == Step::Nothing {
                return Ok(Refreshed::Current);
            }
            let merged = tx.query(&self.merge_sql(), &[Value::Int(through)])?;
            let points = match merged.first() {
                Some(row) => row.get::<i64>("merged")?,
                None => 0,
            };
            Ok(Refreshed::Merged { points })
        })
    }

    /// Builds the cells afresh beside the old ones, without an index (a
    /// third of the time of inserting into the indexed table), indexes
    /// them, and swaps them in: readers wait only for the swap's commit.
    fn rebuild(&self, tx: &Tx) -> Result<Refreshed> {
        let next_name = format!("{}_next", self.cells);
        let (cells, next) = (ident(self.cells), ident(&next_name));
        tx.execute(&format!("CREATE TABLE {next} (LIKE {cells})"), &[])?;
        let counted = tx.query(&self.rebuild_sql(&next), &[])?;
        let points = match counted.first() {
            Some(row) => row.get::<i64>("points")?,
            None => 0,
        };
        tx.execute(
            &format!("ALTER TABLE {next} ADD PRIMARY KEY (z, cy, cx)"),
            &[],
        )?;
        // Statistics now, not when autovacuum comes by: without them the
        // first tiles' plans guess (a zoom-0 tile took 0.8 s, not 30 ms).
        tx.execute(&format!("ANALYZE {next}"), &[])?;
        tx.execute(&format!("DROP TABLE {cells}"), &[])?;
        tx.execute(&format!("ALTER TABLE {next} RENAME TO {cells}"), &[])?;
        tx.execute(
            &format!(
                "ALTER INDEX {} RENAME TO {}",
                ident(&format!("{next_name}_pkey")),
                ident(&format!("{}_pkey", self.cells))
            ),
            &[],
        )?;
        Ok(Refreshed::Rebuilt { points })
    }

    /// Projects the points `filter` keeps (the tail of a `SELECT ... FROM
    /// t`) and sums them into cells at every summarised zoom, each zoom
    /// from the one below: the CTEs `src` and `levels` the rebuild and the
    /// merge share.
    fn levels(&self, filter: &str) -> String {
        let (table, geometry, id) = (
            ident(self.layer.table),
            ident(self.layer.geometry),
            ident(self.layer.id),
        );
        let max = self.max_zoom;
        let per_metre = Self::cells_per_metre(max);
        let mut ctes = format!(
            "src AS MATERIALIZED (SELECT t.{id} AS id, ST_X(p) AS mx, ST_Y(p) AS my \
             FROM {table} AS t CROSS JOIN LATERAL ST_Transform(t.{geometry}, 3857) AS p {filter}), \
             z{max} AS MATERIALIZED (SELECT floor(({HALF_WORLD} - my) * {per_metre:e}::float8)::int4 AS cy, \
             floor((mx + {HALF_WORLD}) * {per_metre:e}::float8)::int4 AS cx, count(*)::int4 AS count, \
             sum(mx) AS sx, sum(my) AS sy, min(id) AS lone FROM src GROUP BY 1, 2)"
        );
        for z in (0..max).rev() {
            ctes.push_str(&format!(
                ", z{z} AS MATERIALIZED (SELECT cy >> 1 AS cy, cx >> 1 AS cx, sum(count)::int4 AS count, \
                 sum(sx) AS sx, sum(sy) AS sy, min(lone) AS lone FROM z{} GROUP BY 1, 2)",
                z + 1
            ));
        }
        let union: Vec<String> = (0..=max)
            .map(|z| format!("SELECT {z}::int2 AS z, cy, cx, count, sx, sy, CASE WHEN count = 1 THEN lone END AS lone FROM z{z}"))
            .collect();
        format!("{ctes}, levels AS ({})", union.join(" UNION ALL "))
    }

    /// The first [`REBUILD_LIMIT`] points into the (unindexed) table `into`,
    /// in key order (a tile's cells then share pages), and the state;
    /// merges take the rest.
    fn rebuild_sql(&self, into: &str) -> String {
        let state = ident(self.state);
        format!(
            "WITH {levels}, stored AS (INSERT INTO {into} (z, cy, cx, count, sx, sy, lone) \
             SELECT z, cy, cx, count, sx, sy, lone FROM levels ORDER BY z, cy, cx RETURNING 1) \
             INSERT INTO {state} AS s (singleton, through, points, built_at, counted_at) \
             SELECT true, coalesce((SELECT max(id) FROM src), 0), (SELECT count(*) FROM src), now(), now() \
             ON CONFLICT (singleton) DO UPDATE SET through = excluded.through, \
             points = excluded.points, built_at = excluded.built_at, counted_at = excluded.counted_at \
             RETURNING s.points AS points",
            levels = self.levels(&format!(
                "ORDER BY t.{} LIMIT {REBUILD_LIMIT}",
                ident(self.layer.id)
            )),
        )
    }

    /// The next points above the mark `$1`, at most [`MERGE_CHUNK`], into
    /// the cells; answers how many.
    fn merge_sql(&self) -> String {
        let (cells, state) = (ident(self.cells), ident(self.state));
        let id = ident(self.layer.id);
        format!(
            "WITH {levels}, merged AS (INSERT INTO {cells} AS c (z, cy, cx, count, sx, sy, lone) \
             SELECT z, cy, cx, count, sx, sy, lone FROM levels ON CONFLICT (z, cy, cx) DO UPDATE \
             SET count = c.count + excluded.count, sx = c.sx + excluded.sx, \
             sy = c.sy + excluded.sy, lone = NULL RETURNING 1) \
             UPDATE {state} SET through = coalesce((SELECT max(id) FROM src), through), \
             points = points + (SELECT count(*) FROM src), built_at = now() \
             RETURNING (SELECT count(*) FROM src) AS merged",
            levels = self.levels(&format!(
                "WHERE t.{id} > $1 ORDER BY t.{id} LIMIT {MERGE_CHUNK}"
            )),
        )
    }
}

/// What a refresh does, from what the cells hold and what it counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Nothing,
    Merge,
    Rebuild,
}

/// `points` in the cells, `added` above their mark, `total` in the table
/// when this refresh counted it.
fn next_step(points: i64, added: i64, total: Option<i64>) -> Step {
    if total.is_some_and(|total| total != points + added) {
        // Points went away, or one committed below the mark.
        Step::Rebuild
    } else if added == 0 {
        Step::Nothing
    } else if added > points && points < i64::from(REBUILD_LIMIT) {
        // Most of the points are new: building afresh is cheaper. Not
        // once a rebuild has taken all it may: it would take the same
        // points again, tick after tick, and never merge the rest.
        Step::Rebuild
    } else {
        Step::Merge
    }
}

/// Points merged per refresh at most: a burst of inserts is taken over a
/// few ticks rather than past the handler's deadline (tiles read what is
/// not merged yet from the points).
pub const MERGE_CHUNK: u32 = 200_000;
/// Points a rebuild takes at most (~4 s per million on a 2-core machine),
/// keys first; merges take the rest, so no refresh outruns the handler's
/// deadline however large the table.
pub const REBUILD_LIMIT: u32 = 1_500_000;
/// A fair period between counts of the points, which notice deletions.
pub const RECOUNT_SECS: u32 = 60;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refresh_merges_rebuilds_or_rests() {
        assert_eq!(next_step(1000, 0, None), Step::Nothing);
        assert_eq!(next_step(1000, 10, None), Step::Merge);
        assert_eq!(next_step(1000, 10, Some(1010)), Step::Merge);
        // A deletion (or a key committed below the mark).
        assert_eq!(next_step(1000, 10, Some(1009)), Step::Rebuild);
        // Mostly new: the first build, a burst.
        assert_eq!(next_step(0, 5000, None), Step::Rebuild);
        assert_eq!(next_step(1000, 5000, None), Step::Rebuild);
    }

    #[test]
    fn a_table_past_the_rebuild_limit_is_merged_not_rebuilt_forever() {
        let limit = i64::from(REBUILD_LIMIT);
        // Ten million points: the rebuild took the first 1.5 million.
        assert_eq!(next_step(limit, 10_000_000 - limit, None), Step::Merge);
        assert_eq!(
            next_step(limit, 10_000_000 - limit, Some(10_000_000)),
            Step::Merge
        );
    }
}
