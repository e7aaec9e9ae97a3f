//! OGC API – Tiles: vector tiles of the points and the regions, decoded and
//! their features checked against what was stored, with the tileset
//! metadata, TileJSON, and the answers caches and map clients rely on.

mod support;

#[path = "support/mvt.rs"]
mod mvt;

use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use serde_json::{Value, json};
use support::{Host, TestDb, client, shipped_handlers};

const MVT: &str = "application/vnd.mapbox-vector-tile";
const CITIES: &[(&str, f64, f64)] = &[
    ("Paris", 2.3522, 48.856614),
    ("Nairobi", 36.8219, -1.2921),
    ("Lima", -77.0428, -12.0464),
];
/// Where fifty points crowd within a hundred metres (Tokyo).
const CROWD: (f64, f64) = (139.6917, 35.6895);

async fn start() -> (TestDb, Host) {
    let db = TestDb::start();
    let host = Host::serve(&db, &shipped_handlers(), &[]).await;
    db.insert_points(CITIES).await;
    db.client()
        .await
        .execute(
            "INSERT INTO points (name, geom) SELECT 'crowd ' || g, \
             ST_SetSRID(ST_MakePoint($1::float8 + (g % 10) * 0.0001, $2::float8 + (g / 10) * 0.0001), 4326) \
             FROM generate_series(0, 49) AS g",
            &[&CROWD.0, &CROWD.1],
        )
        .await
        .unwrap();
    (db, host)
}

async fn tile(host: &Host, collection: &str, z: u32, y: u32, x: u32) -> reqwest::Response {
    client()
        .get(host.url(&format!(
            "/collections/{collection}/tiles/WebMercatorQuad/{z}/{y}/{x}"
        )))
        .send()
        .await
        .unwrap()
}

/// A tile's one layer, decoded, after checking the answer's headers.
async fn layer(host: &Host, collection: &str, z: u32, y: u32, x: u32) -> mvt::Layer {
    let response = tile(host, collection, z, y, x).await;
    assert_eq!(response.status(), StatusCode::OK, "{z}/{y}/{x}");
    assert_eq!(response.headers()[CONTENT_TYPE], MVT);
    let tile = mvt::decode(&response.bytes().await.unwrap());
    assert_eq!(tile.layers.len(), 1);
    let layer = tile.layers.into_iter().next().unwrap();
    assert_eq!(layer.name, collection);
    assert_eq!(layer.version, 2);
    assert_eq!(layer.extent, Some(4096));
    layer
}

#[tokio::test(flavor = "multi_thread")]
async fn point_tiles_hold_the_stored_points_where_web_mercator_puts_them() {
    let (db, host) = start().await;

    // The whole world in one tile: each city by itself, with its id and
    // name, within a tile unit of where Web Mercator puts it; the crowd as
    // one feature counting fifty.
    let world = layer(&host, "points", 0, 0, 0).await;
    assert_eq!(world.features.len(), CITIES.len() + 1, "{world:?}");
    let ids = db.client().await;
    for (name, lon, lat) in CITIES {
        let (_, (x, y)) = mvt::locate(0, *lon, *lat);
        let feature = world
            .features
            .iter()
            .find(|f| world.properties(f).get("name") == Some(&json!(name)))
            .unwrap_or_else(|| panic!("{name} missing"));
        let id: i64 = ids
            .query_one("SELECT id FROM points WHERE name = $1", &[name])
            .await
            .unwrap()
            .get(0);
        assert_eq!(feature.id, Some(id as u64), "{name}");
        assert_eq!(world.properties(feature)["count"], json!(1));
        let [(px, py)] = mvt::points(feature)[..] else {
            panic!("{name}: not one point")
        };
        assert!(
            (px as f64 - x).abs() <= 1.0 && (py as f64 - y).abs() <= 1.0,
            "{name} at {px},{py}, expected {x:.1},{y:.1}"
        );
    }
    let crowd = world
        .features
        .iter()
        .find(|f| world.properties(f)["count"] == json!(50))
        .expect("the crowd as one feature of fifty");
    assert!(!world.properties(crowd).contains_key("name"));

    // Close in, the crowd comes apart into its fifty points, named, over
    // the tiles its corners fall in (a tile's buffer may repeat some).
    let mut tiles = std::collections::BTreeSet::new();
    for (dx, dy) in [(0.0, 0.0), (0.0009, 0.0), (0.0, 0.0004), (0.0009, 0.0004)] {
        tiles.insert(mvt::locate(18, CROWD.0 + dx, CROWD.1 + dy).0);
    }
    let mut named = std::collections::BTreeSet::new();
    for (x, y) in tiles {
        let near = layer(&host, "points", 18, y, x).await;
        for feature in &near.features {
            let properties = near.properties(feature);
            assert_eq!(properties["count"], json!(1), "{near:?}");
            named.insert(properties["name"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(named.len(), 50, "{named:?}");
    assert!(named.iter().all(|name| name.starts_with("crowd ")));

    // Every city is in its tile at every zoom, the tiles on the world's
    // edges too (Lima's is the westmost column up to zoom 1, Paris's the
    // eastern half at zoom 1).
    for z in 1..=4 {
        for (name, lon, lat) in CITIES {
            let ((x, y), _) = mvt::locate(z, *lon, *lat);
            let tile = layer(&host, "points", z, y, x).await;
            assert!(
                tile.features
                    .iter()
                    .any(|f| tile.properties(f)["name"] == *name),
                "{name} missing from {z}/{y}/{x}: {tile:?}"
            );
        }
    }

    // Paris's tile at zoom 12 holds Paris only.
    let (lon, lat) = (CITIES[0].1, CITIES[0].2);
    let ((x, y), (px, py)) = mvt::locate(12, lon, lat);
    let paris = layer(&host, "points", 12, y, x).await;
    let [feature] = &paris.features[..] else {
        panic!("{paris:?}")
    };
    assert_eq!(paris.properties(feature)["name"], "Paris");
    let [(fx, fy)] = mvt::points(feature)[..] else {
        panic!()
    };
    assert!((fx as f64 - px).abs() <= 1.0 && (fy as f64 - py).abs() <= 1.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn empty_tiles_are_204_and_tiles_outside_the_matrix_404() {
    let (_db, host) = start().await;
    // The middle of the Pacific at zoom 10.
    let ((x, y), _) = mvt::locate(10, -140.0, -30.0);
    let empty = tile(&host, "points", 10, y, x).await;
    assert_eq!(empty.status(), StatusCode::NO_CONTENT);
    assert!(empty.bytes().await.unwrap().is_empty());

    for path in [
        "/collections/points/tiles/WebMercatorQuad/25/0/0",
        "/collections/points/tiles/WebMercatorQuad/2/4/0",
        "/collections/points/tiles/WebMercatorQuad/2/0/4",
        "/collections/points/tiles/WebMercatorQuad/-1/0/0",
        "/collections/points/tiles/WebMercatorQuad/1/a/0",
        "/collections/points/tiles/WorldCRS84Quad/0/0/0",
        "/collections/nowhere/tiles/WebMercatorQuad/0/0/0",
        "/collections/nowhere/tiles",
        "/collections/points/tiles/WorldCRS84Quad",
    ] {
        let response = client().get(host.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(
            response.headers()[CONTENT_TYPE],
            "application/problem+json",
            "{path}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn tiles_use_the_spatial_index_and_caches_revalidate_them() {
    let (db, host) = start().await;
    let scans = || async {
        let client = db.client().await;
        // The statistics collector's view, flushed for this backend's read.
        client
            .execute("SELECT pg_stat_clear_snapshot()", &[])
            .await
            .unwrap();
        let row = client
            .query_one(
                "SELECT coalesce(sum(idx_scan), 0)::int8 FROM pg_stat_user_indexes \
                 WHERE indexrelname = 'points_geom_gist'",
                &[],
            )
            .await
            .unwrap();
        row.get::<_, i64>(0)
    };
    // Enough rows elsewhere that the planner prefers the index to a scan.
    db.client()
        .await
        .batch_execute(
            "INSERT INTO points (name, geom) SELECT 'far ' || g, \
             ST_SetSRID(ST_MakePoint(-170 + (g % 100) * 0.1, -60 + (g / 100) * 0.1), 4326) \
             FROM generate_series(0, 19999) AS g; ANALYZE points",
        )
        .await
        .unwrap();
    let before = scans().await;
    let ((x, y), _) = mvt::locate(12, CITIES[0].1, CITIES[0].2);
    let first = tile(&host, "points", 12, y, x).await;
    assert_eq!(first.status(), StatusCode::OK);
    let mut after = scans().await;
    for _ in 0..150 {
        if after > before {
            break;
        }
        // An idle backend flushes its counters within ten seconds
        // (PostgreSQL 15's PGSTAT_IDLE_INTERVAL).
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        after = scans().await;
    }
    assert!(
        after > before,
        "the GiST index was not scanned ({before} → {after})"
    );

    // Cacheable by anyone for a minute, then revalidated by its tag.
    let cache = first.headers()[CACHE_CONTROL].to_str().unwrap().to_owned();
    assert_eq!(cache, "public, max-age=60");
    let tag = first.headers()[ETAG].clone();
    let again = client()
        .get(host.url(&format!(
            "/collections/points/tiles/WebMercatorQuad/12/{y}/{x}"
        )))
        .header(IF_NONE_MATCH, tag.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(again.headers()[ETAG], tag);
    assert!(again.bytes().await.unwrap().is_empty());

    // A new point in the tile: a new tile, a new tag.
    let posted = client()
        .post(host.url("/point"))
        .json(&json!({"name": "Les Halles", "longitude": 2.3470, "latitude": 48.8620}))
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), StatusCode::CREATED);
    assert_eq!(posted.headers()[CACHE_CONTROL], "no-store");
    let changed = client()
        .get(host.url(&format!(
            "/collections/points/tiles/WebMercatorQuad/12/{y}/{x}"
        )))
        .header(IF_NONE_MATCH, tag.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), StatusCode::OK);
    assert_ne!(changed.headers()[ETAG], tag);
    let layer = mvt::decode(&changed.bytes().await.unwrap())
        .layers
        .remove(0);
    let counted: u64 = layer
        .features
        .iter()
        .map(|f| layer.properties(f)["count"].as_u64().unwrap())
        .sum();
    assert_eq!(counted, 2, "{layer:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn tilesets_and_tilejson_describe_the_tiles_a_client_then_fetches() {
    let (_db, host) = start().await;
    // From the collection, as an OGC client finds them.
    let collection: Value = support::get_json(host.url("/collections/points")).await;
    let tilesets = collection["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["rel"] == "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector")
        .expect("a tilesets-vector link");
    let conformance: Value = support::get_json(host.url("/conformance")).await;
    for class in [
        "core",
        "tileset",
        "tilesets-list",
        "geodata-tilesets",
        "mvt",
    ] {
        let uri = format!("http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/{class}");
        assert!(
            conformance["conformsTo"]
                .as_array()
                .unwrap()
                .contains(&json!(uri)),
            "{uri}"
        );
    }
    let list: Value = support::get_json(tilesets["href"].as_str().unwrap()).await;
    let tileset = &list["tilesets"][0];
    assert_eq!(tileset["dataType"], "vector");
    assert_eq!(
        tileset["tileMatrixSetURI"],
        "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"
    );
    let href = tileset["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["rel"] == "self")
        .unwrap()["href"]
        .as_str()
        .unwrap()
        .to_owned();
    let metadata: Value = support::get_json(&href).await;
    assert_eq!(
        metadata["crs"],
        "http://www.opengis.net/def/crs/EPSG/0/3857"
    );
    assert_eq!(metadata["layers"][0]["id"], "points");
    assert_eq!(metadata["layers"][0]["geometryDimension"], 0);
    let links = metadata["links"].as_array().unwrap();
    let item = links.iter().find(|l| l["rel"] == "item").unwrap();
    assert_eq!(item["type"], MVT);
    assert_eq!(item["templated"], true);
    let template = item["href"].as_str().unwrap();
    let ((x, y), _) = mvt::locate(3, CITIES[0].1, CITIES[0].2);
    let url = template
        .replace("{tileMatrix}", "3")
        .replace("{tileRow}", &y.to_string())
        .replace("{tileCol}", &x.to_string());
    let response = client().get(&url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{url}");

    let described = links.iter().find(|l| l["rel"] == "describedby").unwrap();
    let tilejson: Value = support::get_json(described["href"].as_str().unwrap()).await;
    assert_eq!(tilejson["tilejson"], "3.0.0");
    assert_eq!(tilejson["vector_layers"][0]["id"], "points");
    assert_eq!(tilejson["vector_layers"][0]["fields"]["name"], "String");
    assert_eq!(tilejson["minzoom"], 0);
    assert_eq!(tilejson["maxzoom"], 22);
    assert_eq!(tilejson["bounds"].as_array().unwrap().len(), 4);
    // The template as MapLibre fills it.
    let url = tilejson["tiles"][0]
        .as_str()
        .unwrap()
        .replace("{z}", "3")
        .replace("{x}", &x.to_string())
        .replace("{y}", &y.to_string());
    assert!(url.starts_with(&host.base), "{url}");
    let response = client().get(&url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{url}");
    assert_eq!(response.headers()[CONTENT_TYPE], MVT);
}

#[tokio::test(flavor = "multi_thread")]
async fn region_tiles_hold_polygons_with_their_properties() {
    let (_db, host) = start().await;
    let region = json!({
        "type": "Feature",
        "properties": {"name": "Île-de-France", "population": 12_271_794},
        "geometry": {"type": "Polygon", "coordinates": [[
            [1.45, 48.12], [3.56, 48.12], [3.56, 49.24], [1.45, 49.24], [1.45, 48.12]
        ]]},
    });
    let posted = client()
        .post(host.url("/regions"))
        .json(&region)
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), StatusCode::CREATED);
    let id = posted.json::<Value>().await.unwrap()["id"]
        .as_u64()
        .unwrap();

    let ((x, y), _) = mvt::locate(6, 2.35, 48.85);
    let layer = layer(&host, "regions", 6, y, x).await;
    let [feature] = &layer.features[..] else {
        panic!("{layer:?}")
    };
    assert_eq!(feature.r#type, Some(3), "a polygon");
    assert_eq!(feature.id, Some(id));
    let properties = layer.properties(feature);
    assert_eq!(properties["name"], "Île-de-France");
    assert_eq!(properties["population"], json!(12_271_794));

    // Elsewhere, nothing.
    let ((x, y), _) = mvt::locate(6, -100.0, 40.0);
    assert_eq!(
        tile(&host, "regions", 6, y, x).await.status(),
        StatusCode::NO_CONTENT
    );
}
