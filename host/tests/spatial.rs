//! The spatial points API: bbox and radius queries, keyset pages, GeoJSON.

mod support;

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_TYPE, LINK};
use serde_json::{Value, json};
use support::{Host, TestDb, client, shipped_handlers};

/// name, longitude, latitude
const CITIES: &[(&str, f64, f64)] = &[
    ("Paris", 2.3522, 48.8566),
    ("London", -0.1276, 51.5072),
    ("Berlin", 13.405, 52.52),
    ("Madrid", -3.7038, 40.4168),
    ("New York", -74.006, 40.7128),
    ("Sydney", 151.2093, -33.8688),
    ("Suva", 178.4419, -18.1416),
    ("Nuku'alofa", -175.2018, -21.1394),
];

async fn start_with_cities() -> (TestDb, Host) {
    let db = TestDb::start();
    let host = Host::serve(&db, &shipped_handlers(), &[]).await;
    for (name, lon, lat) in CITIES {
        let response = client()
            .post(host.url("/point"))
            .json(&json!({"name": name, "longitude": lon, "latitude": lat}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    (db, host)
}

async fn names(host: &Host, query: &str) -> Vec<String> {
    let response = client()
        .get(host.url(&format!("/points?{query}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{query}");
    let points: Vec<Value> = response.json().await.unwrap();
    points
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

fn as_set(names: Vec<String>) -> BTreeSet<String> {
    names.into_iter().collect()
}

/// Distance on the sphere between two cities, as PostGIS computes it.
async fn sphere_distance(db: &TestDb, a: &str, b: &str) -> f64 {
    db.client()
        .await
        .query_one(
            "SELECT ST_Distance(p.geom::geography, q.geom::geography, false) \
             FROM points p, points q WHERE p.name = $1 AND q.name = $2",
            &[&a, &b],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn bbox_returns_exactly_the_cities_inside() {
    let (_db, host) = start_with_cities().await;
    assert_eq!(
        as_set(names(&host, "bbox=-10,35,15,60").await),
        set(&["Paris", "London", "Berlin", "Madrid"])
    );
    assert_eq!(
        as_set(names(&host, "bbox=-1,48,3,52").await),
        set(&["Paris", "London"])
    );
    assert_eq!(as_set(names(&host, "bbox=-80,-50,-60,-40").await), set(&[]));
    // Edges are inside.
    assert_eq!(
        as_set(names(&host, "bbox=2.3522,48.8566,3,49").await),
        set(&["Paris"])
    );
    // Across the antimeridian: 170°E to 170°W.
    assert_eq!(
        as_set(names(&host, "bbox=170,-25,-170,-10").await),
        set(&["Suva", "Nuku'alofa"])
    );
    // The same box the other way round is most of the world instead.
    let rest = as_set(names(&host, "bbox=-170,-25,170,-10").await);
    assert!(rest.is_empty(), "{rest:?}");
    // Combined with limit: newest first.
    assert_eq!(
        names(&host, "bbox=-10,35,15,60&limit=2").await,
        ["Madrid", "Berlin"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn near_returns_cities_within_the_radius_nearest_first() {
    let (db, host) = start_with_cities().await;
    assert_eq!(
        names(&host, "near=2.3522,48.8566&radius=400000").await,
        ["Paris", "London"]
    );
    assert_eq!(
        names(&host, "near=2.3522,48.8566&radius=1100000").await,
        ["Paris", "London", "Berlin", "Madrid"]
    );
    assert_eq!(
        names(&host, "near=2.3522,48.8566&radius=1100000&limit=1").await,
        ["Paris"]
    );
    // Across the antimeridian, distances are true ones.
    assert_eq!(
        names(&host, "near=178.4419,-18.1416&radius=1000000").await,
        ["Suva", "Nuku'alofa"]
    );

    // The radius edge: London at d metres from Paris is in at d+1, out at d-1.
    let d = sphere_distance(&db, "Paris", "London").await;
    assert!((340_000.0..350_000.0).contains(&d), "{d}");
    let paris = "near=2.3522,48.8566";
    assert_eq!(
        names(&host, &format!("{paris}&radius={}", d + 1.0)).await,
        ["Paris", "London"]
    );
    assert_eq!(
        names(&host, &format!("{paris}&radius={}", d - 1.0)).await,
        ["Paris"]
    );

    // Distances are reported, in metres, increasing.
    let points: Vec<Value> =
        support::get_json(host.url(&format!("/points?{paris}&radius=1100000"))).await;
    let distances: Vec<f64> = points
        .iter()
        .map(|p| p["distance_m"].as_f64().unwrap())
        .collect();
    assert_eq!(distances[0], 0.0);
    assert!((distances[1] - d).abs() < 1e-6, "{distances:?} vs {d}");
    assert!(distances.windows(2).all(|w| w[0] <= w[1]), "{distances:?}");

    // near and bbox together: within 1100 km of Paris and east of 0°.
    assert_eq!(
        as_set(names(&host, &format!("{paris}&radius=1100000&bbox=0,40,20,60")).await),
        set(&["Paris", "Berlin"])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn geojson_is_negotiated_and_paged_with_links() {
    let (_db, host) = start_with_cities().await;
    let response = client()
        .get(host.url("/points?bbox=-10,35,15,60&limit=3"))
        .header(ACCEPT, "application/geo+json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()[CONTENT_TYPE], "application/geo+json");
    let link = response.headers()[LINK].to_str().unwrap().to_owned();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], "FeatureCollection");
    assert_eq!(body["numberReturned"], 3);
    let feature = &body["features"][0];
    assert_eq!(feature["type"], "Feature");
    assert_eq!(feature["properties"]["name"], "Madrid");
    assert_eq!(
        feature["geometry"],
        json!({"type": "Point", "coordinates": [-3.7038, 40.4168]})
    );
    let next = body["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["rel"] == "next")
        .unwrap()["href"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(link, format!("<{next}>; rel=\"next\""));
    assert!(
        next.contains("bbox=-10%2C35%2C15%2C60") && next.contains("cursor="),
        "{next}"
    );

    // The next page, as f=geojson, holds the fourth city and has no next link.
    let second: Value = support::get_json(host.url(&format!("{next}&f=geojson"))).await;
    assert_eq!(second["numberReturned"], 1);
    assert_eq!(second["features"][0]["properties"]["name"], "Paris");
    assert!(
        !second["links"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["rel"] == "next")
    );

    // A single point as a Feature.
    let id = feature["id"].as_i64().unwrap();
    let one: Value = support::get_json(host.url(&format!("/points/{id}?f=geojson"))).await;
    assert_eq!(one["type"], "Feature");
    assert_eq!(one["id"], id);
    // Plain JSON stays the guide's array.
    let plain = client()
        .get(host.url("/points?limit=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(plain.headers()[CONTENT_TYPE], "application/json");
    assert!(plain.json::<Value>().await.unwrap().is_array());
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_spatial_parameters_are_400s_naming_the_parameter() {
    let (db, host) = start_with_cities().await;
    let before = db.count_points().await;
    for (query, parameter) in [
        ("bbox=1,2,3", "bbox"),
        ("bbox=0,0,181,1", "bbox"),
        ("bbox=0,10,1,5", "bbox"),
        ("bbox=a,b,c,d", "bbox"),
        ("near=2,48", "radius"),
        ("radius=10", "near"),
        ("near=2,48&radius=-5", "radius"),
        ("near=2,95&radius=5", "near"),
        ("near=2&radius=5", "near"),
        ("cursor=garbage", "cursor"),
        ("limit=0", "limit"),
        ("f=xml", "f"),
    ] {
        let response = client()
            .get(host.url(&format!("/points?{query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(response.headers()[CONTENT_TYPE], "application/problem+json");
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["parameter"], parameter, "{query}: {problem}");
    }
    assert_eq!(db.count_points().await, before);
}

/// Follows `Link: rel="next"` from `first` to the end; ids in order served.
async fn walk(host: &Host, first: &str) -> (Vec<i64>, usize) {
    let mut ids = Vec::new();
    let mut pages = 0;
    let mut next = Some(first.to_owned());
    while let Some(path) = next.take() {
        let response = client().get(host.url(&path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        next = response.headers().get(LINK).map(|link| {
            let link = link.to_str().unwrap();
            link.strip_prefix('<')
                .unwrap()
                .split_once('>')
                .unwrap()
                .0
                .to_owned()
        });
        let page: Vec<Value> = response.json().await.unwrap();
        ids.extend(page.iter().map(|p| p["id"].as_i64().unwrap()));
        pages += 1;
    }
    (ids, pages)
}

#[tokio::test(flavor = "multi_thread")]
async fn walking_all_pages_misses_and_repeats_nothing_while_others_insert() {
    let db = TestDb::start();
    let host = Arc::new(Host::serve(&db, &shipped_handlers(), &[]).await);
    db.client()
        .await
        .execute(
            "INSERT INTO points (name, geom) SELECT 'seed ' || g, \
             ST_SetSRID(ST_MakePoint(-5 + (g % 100) * 0.1, 40 + (g / 100) * 0.1), 4326) \
             FROM generate_series(1, 10000) AS g",
            &[],
        )
        .await
        .unwrap();
    let existing: HashSet<i64> = db
        .client()
        .await
        .query("SELECT id FROM points", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(existing.len(), 10_000);

    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (host, stop) = (host.clone(), stop.clone());
        tokio::spawn(async move {
            let mut inserted = 0;
            while !stop.load(Ordering::Relaxed) {
                let response = client()
                    .post(host.url("/point"))
                    .json(&json!({"name": "late", "longitude": 0.5, "latitude": 45.5}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), StatusCode::CREATED);
                inserted += 1;
            }
            inserted
        })
    };

    for first in [
        "/points?limit=700",
        "/points?limit=700&bbox=-6,39,6,51",
        "/points?limit=700&near=0,45&radius=2000000",
    ] {
        let (ids, pages) = walk(&host, first).await;
        let unique: HashSet<i64> = ids.iter().copied().collect();
        assert_eq!(unique.len(), ids.len(), "{first}: an id was served twice");
        let missing = existing.difference(&unique).count();
        assert_eq!(
            missing, 0,
            "{first}: {missing} pre-existing points never served"
        );
        assert!(pages >= 15, "{first}: only {pages} pages");
    }
    stop.store(true, Ordering::Relaxed);
    let inserted = writer.await.unwrap();
    assert!(inserted > 10, "the writer barely ran: {inserted} inserts");
}
