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
//! creates the two tables (names its own; shapes as [`Summary::DDL`]);
//! `tiles::refresh` keeps them current.

use super::{EXTENT, HALF_WORLD, Layer, POINT_CELLS, Tile, WORLD_METRES, ident, literal};
use crate::error::Result;
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
    pub(super) fn cells_per_metre(z: u8) -> f64 {
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
}

/// Keys a tile reads beyond the summary's mark at most (by the primary
/// key, each projected): past it, the tile is cut from the points.
pub const TAIL_LIMIT: i64 = 20_000;
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
