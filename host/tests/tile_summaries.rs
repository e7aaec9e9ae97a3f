//! Low-zoom point tiles (zooms 0-3) read the tiles handler's cell
//! summaries, kept by its schedule: the same features a tile cut from the
//! points shows, a new point at once, a deleted one by the next count.

mod support;

#[path = "support/mvt.rs"]
#[allow(dead_code)]
mod mvt;

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use support::{Host, TestDb, client, shipped_plus};

/// Ticks every second, counts every second: what a test can wait for.
const FAST_CELLS: &str = "[handlers.tiles.schedules.cells]\nevery = \"1s\"\n\
                          [handlers.tiles.variables]\ncells_recount_secs = \"1\"\n";
const CITIES: &[(&str, f64, f64)] = &[
    ("Paris", 2.3522, 48.856614),
    ("Nairobi", 36.8219, -1.2921),
    ("Lima", -77.0428, -12.0464),
];
/// Fifty points within a hundred metres (Tokyo): one cell at low zooms.
const CROWD: (f64, f64) = (139.6917, 35.6895);
/// Spread over the southern ocean, away from the cities' cells.
const SPREAD: i64 = 2000;

/// A point feature as (tile x, tile y, count, id, name).
type Feature = (i64, i64, u64, Option<u64>, Option<String>);

/// A point layer's features, sorted.
fn features(layer: &mvt::Layer) -> Vec<Feature> {
    let mut found: Vec<_> = layer
        .features
        .iter()
        .map(|feature| {
            let properties = layer.properties(feature);
            let [(x, y)] = mvt::points(feature)[..] else {
                panic!("not one point: {feature:?}")
            };
            (
                x,
                y,
                properties["count"].as_u64().unwrap(),
                feature.id,
                properties
                    .get("name")
                    .and_then(|name| name.as_str())
                    .map(str::to_owned),
            )
        })
        .collect();
    found.sort();
    found
}

async fn world(host: &Host) -> mvt::Layer {
    let response = client()
        .get(host.url("/collections/points/tiles/WebMercatorQuad/0/0/0"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    mvt::decode(&response.bytes().await.unwrap())
        .layers
        .remove(0)
}

fn total(layer: &mvt::Layer) -> u64 {
    features(layer).iter().map(|f| f.2).sum()
}

/// The summary's high-water mark and point count, once it has been built.
async fn summary_state(db: &TestDb) -> Option<(i64, i64)> {
    db.client()
        .await
        .query_opt("SELECT through, points FROM tiles.point_cells_state", &[])
        .await
        .ok()
        .flatten()
        .map(|row| (row.get(0), row.get(1)))
}

async fn until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < Duration::from_secs(30), "never: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn low_zoom_tiles_read_the_cells_and_follow_inserts_and_deletes() {
    let db = TestDb::start();
    let dir = shipped_plus(FAST_CELLS, &[]);
    let host = Host::serve(&db, dir.path(), &[]).await;
    // While this session holds the refresh's lock, the schedule's ticks
    // do nothing: the points below are in no cell, only in the table.
    let holder = db.client().await;
    holder
        .execute(
            "SELECT pg_advisory_lock(hashtext('geofn tile summary'), hashtext('tiles.point_cells'))",
            &[],
        )
        .await
        .unwrap();
    db.insert_points(CITIES).await;
    db.client()
        .await
        .batch_execute(&format!(
            "INSERT INTO points (name, geom) SELECT 'crowd ' || g, \
             ST_SetSRID(ST_MakePoint({} + (g % 10) * 0.0001, {} + (g / 10) * 0.0001), 4326) \
             FROM generate_series(0, 49) AS g; \
             INSERT INTO points (name, geom) SELECT 'spread ' || g, \
             ST_SetSRID(ST_MakePoint(-179.5 + (g % 200) * 1.79, -70 + (g / 200) * 0.5), 4326) \
             FROM generate_series(0, {}) AS g",
            CROWD.0,
            CROWD.1,
            SPREAD - 1
        ))
        .await
        .unwrap();
    let stored = CITIES.len() as i64 + 50 + SPREAD;

    // Cut from the points...
    let from_points = world(&host).await;
    assert_eq!(total(&from_points), stored as u64);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_ne!(
        summary_state(&db).await.map(|(_, points)| points),
        Some(stored),
        "a refresh ran while its lock was held"
    );
    holder
        .execute("SELECT pg_advisory_unlock_all()", &[])
        .await
        .unwrap();
    // ...and from the cells once the schedule has built them: the same
    // features, ids and names, positions within a tile unit (sums of
    // coordinates added in another order).
    until("the summary holds every point", || async {
        summary_state(&db).await.map(|(_, points)| points) == Some(stored)
    })
    .await;
    let from_cells = world(&host).await;
    let mut unmatched = features(&from_cells);
    for p in features(&from_points) {
        let found = unmatched.iter().position(|c| {
            (p.0 - c.0).abs() <= 1 && (p.1 - c.1).abs() <= 1 && (p.2, p.3, &p.4) == (c.2, c.3, &c.4)
        });
        let Some(found) = found else {
            panic!("{p:?} from the points is not in the tile from the cells")
        };
        unmatched.swap_remove(found);
    }
    assert!(unmatched.is_empty(), "only from the cells: {unmatched:?}");
    let cells: i64 = db
        .client()
        .await
        .query_one("SELECT count(*) FROM tiles.point_cells WHERE z = 0", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        cells as usize,
        from_cells.features.len(),
        "the zoom-0 tile is its cells"
    );

    // A new point shows at once (read from the points above the mark),
    // then is merged into the cells.
    let posted: serde_json::Value = client()
        .post(host.url("/point"))
        .json(&json!({"name": "Reykjavik", "longitude": -21.9426, "latitude": 64.1466}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let fresh_id = posted["id"].as_u64().unwrap();
    let shown = world(&host).await;
    assert!(
        features(&shown)
            .iter()
            .any(|f| f.3 == Some(fresh_id) && f.4.as_deref() == Some("Reykjavik")),
        "the new point is not in the tile"
    );
    until("the new point merged into the cells", || async {
        summary_state(&db).await == Some((fresh_id as i64, stored + 1))
    })
    .await;
    assert!(
        features(&world(&host).await)
            .iter()
            .any(|f| f.3 == Some(fresh_id)),
        "the merged point left the tile"
    );

    // Deleted: a lone point goes at once; a crowded cell counts one less
    // once the next count has rebuilt the cells.
    let lima = id_of(&db, "Lima").await;
    let crowd_one = id_of(&db, "crowd 7").await;
    for id in [lima, crowd_one] {
        let deleted = client()
            .delete(host.url(&format!("/points/{id}")))
            .send()
            .await
            .unwrap();
        assert!(deleted.status().is_success(), "{}", deleted.status());
    }
    assert!(
        !features(&world(&host).await)
            .iter()
            .any(|f| f.4.as_deref() == Some("Lima")),
        "a deleted lone point still shows"
    );
    until("the crowd counted one less", || async {
        features(&world(&host).await).iter().any(|f| f.2 == 49)
    })
    .await;
    assert_eq!(summary_state(&db).await.map(|s| s.1), Some(stored - 1));
    assert_eq!(total(&world(&host).await), stored as u64 - 1);
}

async fn id_of(db: &TestDb, name: &str) -> i64 {
    db.client()
        .await
        .query_one("SELECT id FROM points WHERE name = $1", &[&name])
        .await
        .unwrap()
        .get(0)
}
