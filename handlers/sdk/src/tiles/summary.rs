//! Low-zoom point tiles from cell summaries: a world map of a million
//! points reads thousands of rows per tile, not a million.
//!
//! A point tile merges points per cell of a grid of
//! [`POINT_CELLS`](super::POINT_CELLS) cells per tile side, so at zoom `z`
//! the world is `2^z × 128` cells a side, and a low-zoom tile cut from the
//! points themselves reads every row under it (zoom 0: the whole table).
//! A [`Summary`] keeps, for zooms `0..=max_zoom`, each occupied cell's
//! point count, the sum of its points' Web Mercator coordinates (so the
//! feature sits at their mean, as a tile cut from the points puts it), and
//! its point's key when it holds one. Tiles at those zooms read the cells
//! under them plus the points added since the cells were built (keys above
//! the summary's high-water mark, found through the primary key), so a new
//! point shows at once.
//!
//! A schedule keeps it current ([`Summary::refresh`]): it merges the points
//! added since into the cells, or rebuilds them all when points went away
//! (or a transaction committed a key below the mark). Until then a deleted
//! point still counts in a crowded cell; a lone deleted point disappears at
//! once (its cell is joined back to the table). The handler's migration
//! creates the two tables (names its own; shapes as [`Summary::DDL`]).

use super::{EXTENT, HALF_WORLD, Layer, POINT_CELLS, Tile, WORLD_METRES, ident, literal};
use crate::error::Result;
use crate::tx::{Tx, transaction};
use crate::wit::db::{self, Value};

/// A point layer's cell summaries for its low zooms.
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    /// The points (a [`Kind::Points`](super::Kind::Points) layer whose key
    /// only grows, e.g. `bigserial`).
    pub layer: &'static Layer,
    /// The cells table, shaped as [`Summary::DDL`] says.
    pub cells: &'static str,
    /// The one-row table of the summary's high-water mark.
    pub state: &'static str,
    /// The deepest zoom summarised; deeper tiles are cut from the points,
    /// which the index makes cheap there.
    pub max_zoom: u8,
}

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
    /// The tables' shapes, with `{cells}` and `{state}` for their names:
    /// what the handler's migration creates.
    pub const DDL: &'static str = "\
CREATE TABLE {cells} (
    z smallint NOT NULL,
    cy integer NOT NULL,
    cx integer NOT NULL,
    count integer NOT NULL,
    sx double precision NOT NULL,
    sy double precision NOT NULL,
    lone bigint,
    PRIMARY KEY (z, cy, cx)
);
CREATE TABLE {state} (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    through bigint NOT NULL,
    points bigint NOT NULL,
    built_at timestamptz NOT NULL,
    counted_at timestamptz NOT NULL
);";

    /// Whether tiles at this zoom are read from the cells.
    pub fn covers(&self, tile: Tile) -> bool {
        tile.z <= self.max_zoom
    }

    /// Cells per Web Mercator metre at zoom `z`.
    fn cells_per_metre(z: u8) -> f64 {
        f64::from(POINT_CELLS) * f64::from(1u32 << z) / WORLD_METRES
    }

    /// The statement for one tile at a covered zoom; parameters `$1`
    /// zoom, `$2` column, `$3` row, `$4` west edge, `$5` north edge, `$6`
    /// tile units per metre (as [`Tile::projection`]), `$7` the high-water
    /// mark, `$8` cells per metre, `$9` the last key. The points between
    /// the mark and the last key are read by the primary key alone, with
    /// no test on the geometry: a plan PostgreSQL caches for all tiles
    /// (a generic plan) then cannot pick the spatial index and read the
    /// whole table for a world tile; the tile's cell range drops those
    /// outside it.
    pub fn tile_sql(&self) -> String {
        let layer = self.layer;
        let (table, geometry, id) = (ident(layer.table), ident(layer.geometry), ident(layer.id));
        let cells = ident(self.cells);
        let named: String = layer
            .properties
            .iter()
            .map(|column| format!(", n.{}", ident(column)))
            .collect();
        // The tile's cells and its buffer's: the buffer is whole cells.
        let side = i64::from(POINT_CELLS);
        let margin = i64::from(super::BUFFER * POINT_CELLS / EXTENT);
        let rows = format!(
            "BETWEEN $3 * {side} - {margin} AND $3 * {side} + {}",
            side - 1 + margin
        );
        let columns = format!(
            "BETWEEN $2 * {side} - {margin} AND $2 * {side} + {}",
            side - 1 + margin
        );
        format!(
            "SELECT ST_AsMVT(f.*, {name}, {EXTENT}, 'geom', 'id') AS tile FROM (\
             SELECT ST_MakePoint(round((g.sx / g.count - $4) * $6), round(($5 - g.sy / g.count) * $6)) AS geom, \
             CASE WHEN g.count = 1 THEN g.lone END AS id, g.count::int4 AS count{named} FROM (\
             SELECT c.cy, c.cx, sum(c.count) AS count, sum(c.sx) AS sx, sum(c.sy) AS sy, min(c.lone) AS lone FROM (\
             SELECT s.cy, s.cx, s.count, s.sx, s.sy, s.lone FROM {cells} AS s \
             WHERE s.z = $1 AND s.cy {rows} AND s.cx {columns} \
             UNION ALL \
             SELECT floor(({HALF_WORLD} - ST_Y(p)) * $8)::int4, floor((ST_X(p) + {HALF_WORLD}) * $8)::int4, 1, ST_X(p), ST_Y(p), t.{id} \
             FROM {table} AS t CROSS JOIN LATERAL ST_Transform(t.{geometry}, 3857) AS p \
             WHERE t.{id} > $7 AND t.{id} <= $9) AS c \
             WHERE c.cy {rows} AND c.cx {columns} GROUP BY c.cy, c.cx) AS g \
             LEFT JOIN {table} AS n ON n.{id} = g.lone AND g.count = 1 \
             WHERE g.count > 1 OR n.{id} IS NOT NULL) AS f",
            name = literal(layer.name),
        )
    }

    /// One covered tile's bytes, `None` when nothing is in it. Cut from
    /// the points instead while the summary is not built yet or more than
    /// [`TAIL_LIMIT`] keys behind (a burst of inserts being merged).
    pub fn fetch(&self, tile: Tile) -> Result<Option<Vec<u8>>> {
        let state = crate::sql::query(
            &format!(
                "SELECT s.through, coalesce((SELECT max(t.{id}) FROM {table} AS t), s.through) AS last \
                 FROM {state} AS s",
                id = ident(self.layer.id),
                table = ident(self.layer.table),
                state = ident(self.state),
            ),
            &[],
        )?;
        let Some(state) = state.first() else {
            return self.layer.fetch(tile);
        };
        let (through, last) = (state.get::<i64>("through")?, state.get::<i64>("last")?);
        if last.saturating_sub(through) > TAIL_LIMIT {
            return self.layer.fetch(tile);
        }
        let [west, north, scale] = tile.projection();
        let mut params = tile.params().to_vec();
        params.extend([
            Value::Float(west),
            Value::Float(north),
            Value::Float(scale),
            Value::Int(through),
            Value::Float(Self::cells_per_metre(tile.z)),
            Value::Int(last),
        ]);
        let rows = db::query(&self.tile_sql(), &params)?;
        Ok(super::first_bytes(rows))
    }

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
            if total >= 0 {
                if total != points + added {
                    // Points went away, or one committed below the mark.
                    return self.rebuild(tx);
                }
                tx.execute(&format!("UPDATE {state} SET counted_at = now()"), &[])?;
            }
            if added == 0 {
                return Ok(Refreshed::Current);
            }
            if added > points {
                // Most of the points are new: building afresh is cheaper.
                return self.rebuild(tx);
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

/// Points merged per refresh at most: a burst of inserts is taken over a
/// few ticks rather than past the handler's deadline (tiles read what is
/// not merged yet from the points).
pub const MERGE_CHUNK: u32 = 200_000;
/// Points a rebuild takes at most (~4 s per million on a 2-core machine),
/// keys first; merges take the rest, so no refresh outruns the handler's
/// deadline however large the table.
pub const REBUILD_LIMIT: u32 = 1_500_000;
/// Keys a tile reads beyond the summary's mark at most (by the primary
/// key, each projected): past it, the tile is cut from the points.
pub const TAIL_LIMIT: i64 = 20_000;
/// A fair period between counts of the points, which notice deletions.
pub const RECOUNT_SECS: u32 = 60;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tiles::Kind;

    const POINTS: Layer = Layer {
        name: "points",
        table: "points",
        geometry: "geom",
        id: "id",
        properties: &["name"],
        kind: Kind::Points,
    };
    const SUMMARY: Summary = Summary {
        layer: &POINTS,
        cells: "point_cells",
        state: "point_cells_state",
        max_zoom: 3,
    };

    #[test]
    fn zooms_past_the_summary_are_cut_from_the_points() {
        assert!(SUMMARY.covers(Tile::new(3, 1, 1).unwrap()));
        assert!(!SUMMARY.covers(Tile::new(4, 1, 1).unwrap()));
    }

    #[test]
    fn cells_halve_exactly_from_zoom_to_zoom() {
        // The merge rolls fine cells up by shifting: that is only the cell
        // a coarser grid would give if the scales are exact powers of two.
        let fine = Summary::cells_per_metre(3);
        for z in 0..3u8 {
            assert_eq!(
                Summary::cells_per_metre(z) * f64::from(1u32 << (3 - z)),
                fine
            );
        }
        // 128 cells per tile at zoom 0: the world's width is 128 cells.
        assert!((Summary::cells_per_metre(0) * WORLD_METRES - 128.0).abs() < 1e-9);
    }

    #[test]
    fn the_tile_reads_its_cells_and_its_buffer() {
        let sql = SUMMARY.tile_sql();
        assert!(
            sql.contains("BETWEEN $3 * 128 - 2 AND $3 * 128 + 129"),
            "{sql}"
        );
        assert!(sql.contains("t.\"id\" > $7 AND t.\"id\" <= $9"), "{sql}");
        assert!(
            !sql.contains("&&"),
            "the tail must not test the geometry: {sql}"
        );
        assert!(sql.contains("FROM \"point_cells\" AS s"), "{sql}");
    }
}
