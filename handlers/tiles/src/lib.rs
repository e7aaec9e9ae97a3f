//! OGC API – Tiles over the points and the regions: Mapbox Vector Tiles in
//! `WebMercatorQuad`, the tileset metadata OGC clients read, and TileJSON
//! 3.0 for MapLibre and friends. The SDK's [`geofn_guest::tiles`] cuts the
//! tiles; this crate says which tables, and writes the documents.
//! Routes: `geofn-handler.toml`, embedded in the component with its part
//! of the service's OpenAPI document (`openapi.json`).

use geofn_guest::base::Base;
use geofn_guest::http::with_content_type;
use geofn_guest::prelude::*;
use geofn_guest::tiles::refresh::Refreshed;
use geofn_guest::tiles::summary::Summary;
use geofn_guest::tiles::{
    self, Described, Kind, Layer, MATRIX_SET, MATRIX_SET_CRS, MATRIX_SET_URI, Tile,
};
use serde_json::{Value as Json, json};

/// The points: merged per pixel where they crowd, one by one beyond.
const POINTS: Layer = Layer {
    name: "points",
    table: "points",
    geometry: "geom",
    id: "id",
    properties: &["name"],
    kind: Kind::Points,
};
/// The points' cells at zooms 0-3, where a tile cut from the points
/// would read a quarter to all of the table (0.13-0.9 s at a million).
const POINT_CELLS: Summary = Summary {
    layer: &POINTS,
    cells: "point_cells",
    state: "point_cells_state",
    max_zoom: 3,
};
/// The regions a caller may see, with their `properties` as properties.
const REGIONS: Layer = Layer {
    name: "regions",
    table: "regions",
    geometry: "geom",
    id: "id",
    properties: &["properties"],
    kind: Kind::Shapes,
};
/// Every tileset, by collection.
const TILESETS: &[Described] = &[
    Described {
        layer: &POINTS,
        fields: &[("name", "String"), ("count", "Number")],
        description: "Points stored through POST /point; where several share a pixel, one feature with their count.",
        max_zoom: 22,
    },
    Described {
        layer: &REGIONS,
        fields: &[],
        description: "Regions stored through POST /regions, with their properties.",
        max_zoom: 22,
    },
];
/// WebMercatorQuad's extent in longitude and latitude.
const BOUNDS: [f64; 4] = [-180.0, -85.051_128_779_806_6, 180.0, 85.051_128_779_806_6];
/// Where OGC defines what a link means.
const OGC_REL: &str = "http://www.opengis.net/def/rel/ogc/1.0/";

/// The collection's tileset, or a 404 naming those there are.
fn tileset(ctx: &Ctx) -> Result<&'static Described<'static>> {
    let collection: String = ctx.param("collectionId")?;
    TILESETS
        .iter()
        .find(|described| described.layer.name == collection)
        .ok_or_else(|| {
            Error::not_found(format!(
                "no tiles for collection {collection:?}: there are points and regions"
            ))
        })
}

/// The matrix set named in the path: only `WebMercatorQuad` is served.
fn matrix_set(ctx: &Ctx) -> Result<()> {
    let name: String = ctx.param("matrix_set")?;
    if name == MATRIX_SET {
        Ok(())
    } else {
        Err(Error::not_found(format!(
            "no tile matrix set {name:?}: only {MATRIX_SET}"
        )))
    }
}

fn link(href: String, rel: &str, media_type: &str, title: &str) -> Json {
    json!({ "href": href, "rel": rel, "type": media_type, "title": title })
}

/// `/collections/{collectionId}/tiles`: the tilesets of the collection.
fn list(ctx: &Ctx) -> Result<Response> {
    let described = tileset(ctx)?;
    let base = Base::of(&ctx.request);
    let name = described.layer.name;
    let doc = json!({
        "tilesets": [{
            "title": format!("{name} in {MATRIX_SET}"),
            "dataType": "vector",
            "crs": MATRIX_SET_CRS,
            "tileMatrixSetURI": MATRIX_SET_URI,
            "links": [
                link(base.url(&format!("/collections/{name}/tiles/{MATRIX_SET}")), "self", "application/json", "the tileset"),
                link(MATRIX_SET_URI.into(), &format!("{OGC_REL}tiling-scheme"), "application/json", "the tile matrix set"),
            ],
        }],
        "links": [
            link(base.url(&format!("/collections/{name}/tiles")), "self", "application/json", "this document"),
        ],
    });
    Ok(with_content_type(200, "application/json", &doc))
}

/// `/collections/{collectionId}/tiles/WebMercatorQuad`: the tileset metadata.
fn metadata(ctx: &Ctx) -> Result<Response> {
    let described = tileset(ctx)?;
    matrix_set(ctx)?;
    let base = Base::of(&ctx.request);
    let name = described.layer.name;
    let here = format!("/collections/{name}/tiles/{MATRIX_SET}");
    let properties: serde_json::Map<String, Json> = described
        .fields
        .iter()
        .map(|(field, kind)| {
            let kind = if *kind == "Number" {
                "number"
            } else {
                "string"
            };
            ((*field).to_owned(), json!({ "type": kind }))
        })
        .collect();
    let mut item = link(
        base.url(&format!("{here}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}")),
        "item",
        tiles::MEDIA_TYPE,
        "a tile",
    );
    item["templated"] = Json::Bool(true);
    let dimension = if described.layer.kind == Kind::Points {
        0
    } else {
        2
    };
    let doc = json!({
        "title": format!("{name} in {MATRIX_SET}"),
        "description": described.description,
        "dataType": "vector",
        "crs": MATRIX_SET_CRS,
        "tileMatrixSetURI": MATRIX_SET_URI,
        "tileMatrixSetLimits": (0..=described.max_zoom).map(|z| {
            let last = (1u32 << z) - 1;
            json!({ "tileMatrix": z.to_string(), "minTileRow": 0, "maxTileRow": last, "minTileCol": 0, "maxTileCol": last })
        }).collect::<Vec<_>>(),
        "layers": [{
            "id": name,
            "dataType": "vector",
            "geometryDimension": dimension,
            "minTileMatrix": "0",
            "maxTileMatrix": described.max_zoom.to_string(),
            "propertiesSchema": { "type": "object", "properties": properties },
        }],
        "boundingBox": {
            "lowerLeft": [BOUNDS[0], BOUNDS[1]],
            "upperRight": [BOUNDS[2], BOUNDS[3]],
            "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
        },
        "links": [
            link(base.url(&here), "self", "application/json", "this document"),
            link(MATRIX_SET_URI.into(), &format!("{OGC_REL}tiling-scheme"), "application/json", "the tile matrix set"),
            link(base.url(&format!("/collections/{name}")), "collection", "application/json", "the collection"),
            link(base.url(&format!("{here}/tilejson.json")), "describedby", "application/json", "TileJSON 3.0"),
            item,
        ],
    });
    Ok(with_content_type(200, "application/json", &doc))
}

/// `/collections/{collectionId}/tiles/WebMercatorQuad/tilejson.json`.
fn tilejson(ctx: &Ctx) -> Result<Response> {
    let described = tileset(ctx)?;
    matrix_set(ctx)?;
    let base = Base::of(&ctx.request);
    let url = base.url(&format!(
        "/collections/{}/tiles/{MATRIX_SET}/{{z}}/{{y}}/{{x}}",
        described.layer.name
    ));
    Ok(with_content_type(
        200,
        "application/json",
        &tiles::tilejson(described, &url, BOUNDS),
    ))
}

/// `/collections/{collectionId}/tiles/WebMercatorQuad/{z}/{y}/{x}`.
fn tile(ctx: &Ctx) -> Result<Response> {
    let described = tileset(ctx)?;
    matrix_set(ctx)?;
    let tile = Tile::from_ctx(ctx)?;
    let bytes = if described.layer.name == POINTS.name && POINT_CELLS.covers(tile) {
        POINT_CELLS.fetch(tile)?
    } else {
        described.layer.fetch(tile)?
    };
    Ok(tiles::answer(ctx, bytes))
}

/// The schedule's `POST /_tiles/points/cells` (no route reaches it).
fn refresh_cells(_ctx: &Ctx) -> Result<Response> {
    let recount: u32 = geofn_guest::config::parsed("cells_recount_secs")?;
    let outcome = match POINT_CELLS.refresh(recount)? {
        Refreshed::Rebuilt { points } => json!({ "rebuilt": points }),
        Refreshed::Merged { points } => json!({ "merged": points }),
        Refreshed::Current => json!({ "current": true }),
        Refreshed::Busy => json!({ "busy": true }),
    };
    Ok(geofn_guest::http::json(200, &outcome))
}

struct Tiles;

impl Guest for Tiles {
    fn handle(request: Request) -> Response {
        Router::new()
            .get("/collections/{collectionId}/tiles", list)
            .get("/collections/{collectionId}/tiles/{matrix_set}", metadata)
            .get(
                "/collections/{collectionId}/tiles/{matrix_set}/tilejson.json",
                tilejson,
            )
            .get(
                "/collections/{collectionId}/tiles/{matrix_set}/{z}/{y}/{x}",
                tile,
            )
            .post("/_tiles/points/cells", refresh_cells)
            .handle(request)
    }
}

geofn_guest::export_handler!(Tiles);
geofn_guest::handler_manifest!(include_str!("../geofn-handler.toml"));
geofn_guest::handler_openapi!(include_str!("../openapi.json"));
