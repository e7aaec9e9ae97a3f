//! On 1,000,000 points, the plans PostgreSQL chooses for the exact
//! statements the handlers send (captured with auto_explain) use the GiST
//! indexes, and a CQL2 filter on name the name index. Writes the plans to `target/reports/spatial-plans.txt`.

mod support;

use std::time::Duration;

use reqwest::StatusCode;
use support::{Host, TestDb, client, shipped_handlers, target_dir};

const POINTS: i64 = 1_000_000;

#[tokio::test(flavor = "multi_thread")]
async fn bbox_and_near_use_the_gist_indexes_on_a_million_points() {
    let db = TestDb::start();
    // Migrate once, then load in bulk with the indexes rebuilt afterwards
    // (much faster than maintaining two GiST indexes row by row).
    Host::serve(&db, &shipped_handlers(), &[])
        .await
        .kill()
        .await;
    let sql = db.client().await;
    sql.batch_execute(
        "DROP INDEX points_geom_gist; DROP INDEX points_geog_gist;
         SELECT setseed(0.42);",
    )
    .await
    .unwrap();
    sql.execute(
        "INSERT INTO points (name, geom) SELECT 'p' || g, \
         ST_SetSRID(ST_MakePoint(random() * 360 - 180, random() * 180 - 90), 4326) \
         FROM generate_series(1, $1::int8) AS g",
        &[&POINTS],
    )
    .await
    .unwrap();
    sql.batch_execute(
        "CREATE INDEX points_geom_gist ON points USING gist (geom);
         CREATE INDEX points_geog_gist ON points USING gist ((geom::geography));",
    )
    .await
    .unwrap();
    sql.batch_execute("VACUUM ANALYZE points").await.unwrap();
    sql.batch_execute(
        "ALTER DATABASE geofn SET session_preload_libraries = 'auto_explain';
         ALTER DATABASE geofn SET auto_explain.log_min_duration = 0;
         ALTER DATABASE geofn SET auto_explain.log_nested_statements = on;",
    )
    .await
    .unwrap();
    let log_start = std::fs::metadata(db.cluster.log_path()).unwrap().len() as usize;

    // New connections, so every statement the handlers run is explained.
    let host = Host::serve(&db, &shipped_handlers(), &["--pool-size", "2"]).await;
    for query in [
        "bbox=2,48,3,49&limit=100",
        "near=2.35,48.85&radius=50000&limit=100",
        "near=-74,40.7&radius=200000&bbox=-75,40,-73,41&limit=100",
        // A radius holding ~60,000 points: ordering, not filtering, is the work.
        "near=0,0&radius=3000000&limit=100",
    ] {
        let response = client()
            .get(host.url(&format!("/points?{query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{query}");
    }
    let items = client()
        .get(host.url("/collections/points/items?bbox=10,10,13,13"))
        .send()
        .await
        .unwrap();
    assert_eq!(items.status(), StatusCode::OK);
    // A CQL2 filter on name, as GDAL's -where sends it.
    let named = client()
        .get(host.url("/collections/points/items?filter=name%20%3D%20%27p4242%27"))
        .send()
        .await
        .unwrap();
    assert_eq!(named.status(), StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(300)).await;

    let log = std::fs::read_to_string(db.cluster.log_path()).unwrap();
    let plans = &log[log_start..];
    let plan_of = |needle: &str| -> String {
        let found = plans
            .find(needle)
            .unwrap_or_else(|| panic!("no plan for {needle:?} in:\n{plans}"));
        let start = plans[..found].rfind("Query Text:").unwrap_or(found);
        let rest = &plans[start..];
        let end = rest[1..].find("LOG:").map_or(rest.len(), |i| i + 1);
        rest[..end].to_owned()
    };
    let bbox_plan = plan_of("FROM points WHERE geom && ST_MakeEnvelope");
    assert!(bbox_plan.contains("points_geom_gist"), "{bbox_plan}");
    // Nearest within 50 km: a KNN walk of the geography index.
    let near_plan = plan_of("'50000'::double precision");
    assert!(
        near_plan.contains("Index Scan using points_geog_gist"),
        "{near_plan}"
    );
    assert!(
        near_plan.contains("Order By: ((geom)::geography <->"),
        "{near_plan}"
    );
    // Nearest within a radius and a box: both bound the scan.
    let near_box_plan = plan_of("AND ST_DWithin");
    assert!(near_box_plan.contains("_gist"), "{near_box_plan}");
    assert!(!near_box_plan.contains("Seq Scan"), "{near_box_plan}");
    // Wide radius (~60,000 points inside): still a KNN walk reading one page.
    let knn_plan = plan_of("'3000000'::double precision");
    assert!(
        knn_plan.contains("Order By: ((geom)::geography <->"),
        "{knn_plan}"
    );
    assert!(knn_plan.contains("points_geog_gist"), "{knn_plan}");
    // numberMatched: ~140 in the box, past the first page and under the
    // cap, so a capped count, on the index.
    let count_plan = plan_of("SELECT count(*) FROM (SELECT 1 FROM points WHERE geom &&");
    assert!(count_plan.contains("points_geom_gist"), "{count_plan}");

    // name = …: the name index (migration 0003), not a million rows read.
    let name_plan = plan_of("(\"name\" = $1::text)");
    assert!(name_plan.contains("points_name_pattern"), "{name_plan}");
    assert!(!name_plan.contains("Seq Scan"), "{name_plan}");

    let report = target_dir().join("reports");
    std::fs::create_dir_all(&report).unwrap();
    std::fs::write(
        report.join("spatial-plans.txt"),
        format!(
            "{POINTS} points\n\n{bbox_plan}\n{near_plan}\n{near_box_plan}\n{knn_plan}\n{count_plan}"
        ),
    )
    .unwrap();
}
