//! Vector tiles (OGC API – Tiles, Mapbox Vector Tiles) over a handler's own
//! table, in the `WebMercatorQuad` tile matrix set every web map uses.
//!
//! PostGIS cuts and encodes the tiles (`ST_TileEnvelope`, `ST_AsMVTGeom`,
//! `ST_AsMVT`); this module writes that SQL once, with the bounding-box test
//! on the stored geometry so the table's GiST index picks the rows, and
//! answers the way map clients and caches expect: `204` for an empty tile,
//! `404` outside the matrix, the tile media type, a `Cache-Control`.
//!
//! ```ignore
//! const POINTS: Layer = Layer {
//!     name: "points", table: "points", geometry: "geom", id: "id",
//!     properties: &["name"], kind: Kind::Points,
//! };
//! fn tile(ctx: &Ctx) -> Result<Response> {
//!     let tile = Tile::from_ctx(ctx)?;
//!     Ok(tiles::answer(ctx, POINTS.fetch(tile)?))
//! }
//! ```

pub mod refresh;
pub mod summary;

use serde_json::{Value as Json, json};

use crate::error::{Error, Result};
use crate::router::Ctx;
use crate::wit::Response;
use crate::wit::db::{self, Value};

/// The media type of a Mapbox Vector Tile.
pub const MEDIA_TYPE: &str = "application/vnd.mapbox-vector-tile";
/// The tile matrix set's identifier in paths, as OGC names it.
pub const MATRIX_SET: &str = "WebMercatorQuad";
/// Its definition, for `tileMatrixSetURI`.
pub const MATRIX_SET_URI: &str = "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad";
/// Its CRS.
pub const MATRIX_SET_CRS: &str = "http://www.opengis.net/def/crs/EPSG/0/3857";
/// The deepest matrix of the set's definition (0–24).
pub const MAX_ZOOM: u8 = 24;
/// Tile coordinates per side: MVT's customary 4096.
pub const EXTENT: u32 = 4096;
/// Coordinates kept beyond each edge, so symbols and strokes that cross an
/// edge are drawn whole by both neighbours.
pub const BUFFER: u32 = 64;
/// How long a client or proxy may reuse a tile without asking (it then
/// revalidates with the host's `ETag`): a new point shows within a minute.
pub const MAX_AGE_SECS: u32 = 60;
/// Cells per tile side in which points merge where they crowd: 4 pixels of
/// a 512-pixel MapLibre tile, at most 16,384 features (about 250 KB) per
/// tile whatever the table holds.
pub const POINT_CELLS: u32 = 128;

/// The width of the Web Mercator world in metres (2π × 6378137).
const WORLD_METRES: f64 = 40_075_016.685_578_49;
/// From the centre of Web Mercator to its edges, in metres.
const HALF_WORLD: f64 = WORLD_METRES / 2.0;

/// One tile of the matrix set: zoom, row (from the north), column (from
/// the antimeridian), all within the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tile {
    /// The tile matrix (zoom level), 0..=[`MAX_ZOOM`].
    pub z: u8,
    /// The row, 0..2^z, north first.
    pub y: u32,
    /// The column, 0..2^z, west first.
    pub x: u32,
}

impl Tile {
    /// The tile at `z`/`y`/`x`, or `None` outside the matrix set.
    pub fn new(z: i64, y: i64, x: i64) -> Option<Self> {
        let z = u8::try_from(z).ok().filter(|z| *z <= MAX_ZOOM)?;
        let side = 1i64 << z;
        let within = |n: i64| (0..side).contains(&n).then_some(n as u32);
        Some(Self {
            z,
            y: within(y)?,
            x: within(x)?,
        })
    }

    /// The tile a route's `{z}`, `{y}` and `{x}` name (OGC's
    /// `{tileMatrix}/{tileRow}/{tileCol}`): a `404` naming the limits when
    /// it is outside the matrix or not a number.
    pub fn from_ctx(ctx: &Ctx) -> Result<Self> {
        let number = |name: &str| ctx.param::<i64>(name).ok();
        let tile = match (number("z"), number("y"), number("x")) {
            (Some(z), Some(y), Some(x)) => Self::new(z, y, x),
            _ => None,
        };
        tile.ok_or_else(|| {
            Error::not_found(format!(
                "no such tile in {MATRIX_SET}: zoom 0 to {MAX_ZOOM}, row and column 0 to 2^zoom - 1"
            ))
        })
    }

    /// In EPSG:3857 metres: the tile's west and north edges, and tile
    /// units ([`EXTENT`]) per metre.
    pub fn projection(self) -> [f64; 3] {
        let size = WORLD_METRES / f64::from(1u32 << self.z);
        [
            -HALF_WORLD + f64::from(self.x) * size,
            HALF_WORLD - f64::from(self.y) * size,
            f64::from(EXTENT) / size,
        ]
    }

    fn params(self) -> [Value; 3] {
        [
            Value::Int(self.z.into()),
            Value::Int(self.x.into()),
            Value::Int(self.y.into()),
        ]
    }
}

/// What a layer's geometries are, which decides how a crowded tile is cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Points: those that fall in one cell of a [`POINT_CELLS`]-per-side
    /// grid merge into one feature with a `count` at their mean position; a
    /// cell holding one point gives that point, with its id and properties.
    Points,
    /// Lines and polygons, clipped and simplified by `ST_AsMVTGeom`.
    Shapes,
}

/// A table as one layer of vector tiles. Names are the handler's own
/// (constants in its code, never a client's); they are quoted as
/// identifiers all the same.
#[derive(Debug, Clone, Copy)]
pub struct Layer {
    /// The layer's name inside the tile (`source-layer` in a map style).
    pub name: &'static str,
    /// The table (on the handler's search path).
    pub table: &'static str,
    /// Its geometry column, stored in EPSG:4326 with a GiST index.
    pub geometry: &'static str,
    /// Its integer key, the features' ids.
    pub id: &'static str,
    /// Columns carried as feature properties (a `jsonb` column's members
    /// become properties of their own).
    pub properties: &'static [&'static str],
    /// What its geometries are.
    pub kind: Kind,
}

impl Layer {
    /// The statement that answers one tile as MVT bytes (`NULL` or empty
    /// when nothing is in it); parameters `$1` zoom, `$2` column, `$3` row.
    pub fn sql(&self) -> String {
        let geometry = ident(self.geometry);
        let id = ident(self.id);
        let table = ident(self.table);
        let envelope = buffered_envelope();
        let hits = format!("FROM {table} AS t WHERE t.{geometry} && {envelope}");
        let columns: String = self
            .properties
            .iter()
            .map(|column| format!(", t.{}", ident(column)))
            .collect();
        let cut = format!(
            "ST_AsMVTGeom(ST_Transform(t.{geometry}, 3857), ST_TileEnvelope($1, $2, $3), {EXTENT}, {BUFFER}, true)"
        );
        let layer = literal(self.name);
        match self.kind {
            Kind::Shapes => format!(
                "SELECT ST_AsMVT(f.*, {layer}, {EXTENT}, 'geom', 'id') AS tile FROM (\
                 SELECT {cut} AS geom, t.{id} AS id{columns} {hits}) AS f \
                 WHERE f.geom IS NOT NULL"
            ),
            Kind::Points => {
                // Tile coordinates by arithmetic on the projected point
                // ($4 west edge, $5 north edge, $6 tile units per metre),
                // no clipping: the index test already kept only the tile
                // and its buffer. Names joined back for lone points only,
                // so a crowded tile never compares a million strings.
                let cell = EXTENT / POINT_CELLS;
                let named: String = self
                    .properties
                    .iter()
                    .map(|column| format!(", n.{}", ident(column)))
                    .collect();
                format!(
                    "SELECT ST_AsMVT(f.*, {layer}, {EXTENT}, 'geom', 'id') AS tile FROM (\
                     SELECT g.geom, g.id, g.count{named} FROM (\
                     SELECT ST_MakePoint(round(avg(c.px)), round(avg(c.py))) AS geom, \
                     CASE WHEN count(*) = 1 THEN min(c.id) END AS id, count(*)::int4 AS count \
                     FROM (SELECT (ST_X(p) - $4) * $6 AS px, ($5 - ST_Y(p)) * $6 AS py, t.{id} AS id \
                     FROM {table} AS t CROSS JOIN LATERAL ST_Transform(t.{geometry}, 3857) AS p \
                     WHERE t.{geometry} && {envelope}) AS c \
                     GROUP BY floor(c.px / {cell}), floor(c.py / {cell})) AS g \
                     LEFT JOIN {table} AS n ON n.{id} = g.id) AS f"
                )
            }
        }
    }

    /// One tile's bytes, `None` when nothing is in it.
    pub fn fetch(&self, tile: Tile) -> Result<Option<Vec<u8>>> {
        let mut params = tile.params().to_vec();
        if self.kind == Kind::Points {
            params.extend(tile.projection().map(Value::Float));
        }
        let rows = db::query(&self.sql(), &params)?;
        Ok(first_bytes(rows))
    }
}

/// Rows by the index: the tile's envelope with its buffer, in the stored
/// CRS (EPSG:4326), to test against the stored geometry; parameters `$1`
/// zoom, `$2` column, `$3` row.
fn buffered_envelope() -> String {
    let margin = f64::from(BUFFER) / f64::from(EXTENT);
    // Clipped to the world first: beyond it, an edge tile's margin would
    // come back from EPSG:3857 wrapped to the other side of the
    // antimeridian, and the envelope of the two would be the wrong half of
    // the world.
    format!(
        "ST_Transform(ST_ClipByBox2D(ST_TileEnvelope($1, $2, $3, margin => {margin}), \
         ST_MakeEnvelope(-{HALF_WORLD}, -{HALF_WORLD}, {HALF_WORLD}, {HALF_WORLD}, 3857)), 4326)"
    )
}

/// The tile in a one-row, one-column answer, `None` when empty or `NULL`.
fn first_bytes(rows: db::Rows) -> Option<Vec<u8>> {
    rows.rows.into_iter().next().and_then(|row| {
        row.into_iter().next().and_then(|value| match value {
            Value::Bytes(bytes) if !bytes.is_empty() => Some(bytes),
            _ => None,
        })
    })
}

/// The answer for a fetched tile: `200` with the tile, or `204` for an
/// empty one (OGC API – Tiles), cacheable for [`MAX_AGE_SECS`], privately
/// when the caller sent a token (row-level security may have shaped what
/// it sees).
pub fn answer(ctx: &Ctx, tile: Option<Vec<u8>>) -> Response {
    let cache = if ctx.header("authorization").is_some() {
        format!("private, max-age={MAX_AGE_SECS}")
    } else {
        format!("public, max-age={MAX_AGE_SECS}")
    };
    let response = match tile {
        Some(bytes) => crate::http::encoded(200, MEDIA_TYPE, bytes),
        None => crate::http::empty(204),
    };
    response
        .with_header("cache-control", cache)
        .with_header("vary", "authorization")
}

/// A layer's description for TileJSON and the tileset metadata: its
/// properties' names and types (`Number`, `String`, `Boolean`).
#[derive(Debug, Clone, Copy)]
pub struct Described<'a> {
    /// The layer.
    pub layer: &'a Layer,
    /// Property name and type, as clients will find them in features.
    pub fields: &'a [(&'a str, &'a str)],
    /// What the layer holds, for people.
    pub description: &'a str,
    /// The deepest zoom with data worth fetching; clients overzoom beyond.
    pub max_zoom: u8,
}

/// TileJSON 3.0.0 for one layer, tiles at `tiles_url` (an absolute URL
/// template with `{z}`, `{x}` and `{y}`).
pub fn tilejson(described: &Described, tiles_url: &str, bounds: [f64; 4]) -> Json {
    let fields: serde_json::Map<String, Json> = described
        .fields
        .iter()
        .map(|(name, kind)| ((*name).to_owned(), Json::from(*kind)))
        .collect();
    json!({
        "tilejson": "3.0.0",
        "name": described.layer.name,
        "description": described.description,
        "scheme": "xyz",
        "tiles": [tiles_url],
        "minzoom": 0,
        "maxzoom": described.max_zoom,
        "bounds": bounds,
        "center": [(bounds[0] + bounds[2]) / 2.0, (bounds[1] + bounds[3]) / 2.0, 2],
        "vector_layers": [{
            "id": described.layer.name,
            "description": described.description,
            "fields": fields,
            "minzoom": 0,
            "maxzoom": described.max_zoom,
        }],
    })
}

/// A quoted SQL identifier.
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A quoted SQL string literal.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_matrix_has_limits() {
        assert_eq!(Tile::new(0, 0, 0), Some(Tile { z: 0, y: 0, x: 0 }));
        assert_eq!(Tile::new(3, 7, 5), Some(Tile { z: 3, y: 7, x: 5 }));
        assert_eq!(Tile::new(3, 8, 0), None);
        assert_eq!(Tile::new(3, 0, 8), None);
        assert_eq!(Tile::new(-1, 0, 0), None);
        assert_eq!(Tile::new(0, -1, 0), None);
        assert_eq!(Tile::new(25, 0, 0), None);
        assert!(Tile::new(24, (1 << 24) - 1, (1 << 24) - 1).is_some());
    }

    #[test]
    fn tiles_project_to_their_corner() {
        let [west, north, scale] = Tile::new(0, 0, 0).unwrap().projection();
        assert!((west + 20_037_508.342_789_244).abs() < 1e-6);
        assert!((north - 20_037_508.342_789_244).abs() < 1e-6);
        assert!((scale * WORLD_METRES - 4096.0).abs() < 1e-9);
        let [west, north, _] = Tile::new(1, 1, 1).unwrap().projection();
        assert!(west.abs() < 1e-6 && north.abs() < 1e-6);
    }

    #[test]
    fn names_are_quoted() {
        const ODD: Layer = Layer {
            name: "it's",
            table: "we\"ird",
            geometry: "geom",
            id: "id",
            properties: &["name"],
            kind: Kind::Shapes,
        };
        let sql = ODD.sql();
        assert!(sql.contains("'it''s'"), "{sql}");
        assert!(sql.contains("\"we\"\"ird\""), "{sql}");
    }
}
