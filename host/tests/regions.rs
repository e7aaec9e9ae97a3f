//! The regions handler, the second application, written on the SDK alone:
//! polygons checked by PostGIS, point-in-polygon lookups, and the points of
//! the points handler inside a region, a page at a time.

mod support;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{Host, TestDb, client, post_json_text, shipped_handlers};

/// A square of `half` degrees around (`lon`, `lat`).
fn square(lon: f64, lat: f64, half: f64) -> Value {
    let (w, e, s, n) = (lon - half, lon + half, lat - half, lat + half);
    json!({"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]})
}

async fn post(host: &Host, body: Value) -> (StatusCode, Value, Option<String>) {
    let posted = post_json_text(host.url("/regions"), body.to_string()).await;
    (posted.status, posted.body, posted.location)
}

async fn get(host: &Host, path: &str) -> (StatusCode, Value, Option<String>) {
    let response = client().get(host.url(path)).send().await.unwrap();
    let status = response.status();
    let link = response
        .headers()
        .get("link")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, response.json().await.unwrap_or(Value::Null), link)
}

fn feature(geometry: Value, name: &str) -> Value {
    json!({"type": "Feature", "geometry": geometry, "properties": {"name": name}})
}

#[tokio::test(flavor = "multi_thread")]
async fn regions_are_checked_stored_and_found_by_point() {
    let db = TestDb::start();
    let host = Host::serve(&db, &shipped_handlers(), &[]).await;
    let (status, paris, location) = post(&host, feature(square(2.35, 48.85, 0.5), "Paris")).await;
    assert_eq!(status, StatusCode::CREATED, "{paris}");
    let id = paris["id"].as_i64().unwrap();
    assert_eq!(location.as_deref(), Some(format!("/regions/{id}").as_str()));
    assert_eq!(paris["geometry"]["type"], "Polygon");
    assert_eq!(paris["properties"]["name"], "Paris");
    let multi = json!({"type": "MultiPolygon", "coordinates": [
        square(10.0, 10.0, 1.0)["coordinates"], square(20.0, 10.0, 1.0)["coordinates"]]});
    assert_eq!(
        post(&host, feature(multi, "two")).await.0,
        StatusCode::CREATED
    );

    // Bad geometries: a 400 naming PostGIS's reason, nothing stored.
    let bowtie =
        json!({"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]});
    let (status, problem, _) = post(&host, feature(bowtie, "bowtie")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    assert_eq!(problem["parameter"], "geometry");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("Self-intersection"),
        "{problem}"
    );
    for (body, needle) in [
        (
            feature(json!({"type": "Point", "coordinates": [1, 2]}), "x"),
            "not a POINT",
        ),
        (
            feature(json!({"type": "Polygon", "coordinates": "nope"}), "x"),
            "invalid geometry",
        ),
        (
            json!({"type": "FeatureCollection"}),
            "not what this route takes",
        ),
        (
            json!({"type": "Feature", "geometry": square(5.0, 5.0, 1.0),
                   "properties": {"name": "nul", "tags": [{"a\u{0}": 1}]}}),
            "NUL characters",
        ),
    ] {
        let (status, problem, _) = post(&host, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {problem}");
        assert!(
            problem["detail"].as_str().unwrap().contains(needle),
            "{problem}"
        );
    }
    let not_json = client()
        .post(host.url("/regions"))
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let stored: i64 = db
        .client()
        .await
        .query_one(
            "SELECT count(*) FROM regions.regions WHERE properties->>'name' = 'bowtie'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored, 0);

    let (status, fetched, _) = get(&host, &format!("/regions/{id}")).await;
    assert_eq!((status, &fetched), (StatusCode::OK, &paris));
    assert_eq!(get(&host, "/regions/999999").await.0, StatusCode::NOT_FOUND);
    assert_eq!(get(&host, "/regions/abc").await.0, StatusCode::BAD_REQUEST);

    let (status, found, _) = get(&host, "/regions?contains=2.3,48.9").await;
    assert_eq!(status, StatusCode::OK);
    let ids: Vec<i64> = found["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [id]);
    let (_, in_second_part, _) = get(&host, "/regions?contains=20.5,10.5").await;
    assert_eq!(in_second_part["features"][0]["properties"]["name"], "two");
    let (_, nowhere, _) = get(&host, "/regions?contains=-40,-40").await;
    assert_eq!(nowhere["features"], json!([]));
    let (status, problem, _) = get(&host, "/regions?contains=200,0").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    assert_eq!(problem["parameter"], "contains");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_points_inside_a_region_come_a_page_at_a_time() {
    let db = TestDb::start();
    let host = Host::serve(&db, &shipped_handlers(), &[]).await;
    let (_, paris, _) = post(&host, feature(square(2.35, 48.85, 0.5), "Paris")).await;
    let id = paris["id"].as_i64().unwrap();
    let mut inside = Vec::new();
    for i in 0..25 {
        // Every other point inside the square.
        let (lon, lat) = if i % 2 == 0 {
            (2.0 + i as f64 * 0.02, 48.6 + i as f64 * 0.01)
        } else {
            (30.0, -10.0)
        };
        let created: Value = client()
            .post(host.url("/point"))
            .json(&json!({"name": format!("p{i}"), "longitude": lon, "latitude": lat}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if i % 2 == 0 {
            inside.push(created["id"].as_i64().unwrap());
        }
    }
    inside.reverse();
    let mut seen = Vec::new();
    let mut next = Some(format!("/regions/{id}/points?limit=5"));
    while let Some(path) = next {
        let (status, page, link) = get(&host, &path).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let page = page.as_array().unwrap();
        assert!(page.len() <= 5);
        for point in page {
            assert!(point["name"].as_str().unwrap().starts_with('p'));
            assert!(point["longitude"].is_number() && point["latitude"].is_number());
            seen.push(point["id"].as_i64().unwrap());
        }
        next = link.map(|l| {
            l.trim_start_matches('<')
                .split_once('>')
                .unwrap()
                .0
                .to_owned()
        });
    }
    assert_eq!(seen, inside, "every point inside, newest first, none twice");
    assert_eq!(
        get(&host, "/regions/999999/points").await.0,
        StatusCode::NOT_FOUND
    );
    let (status, problem, _) = get(&host, &format!("/regions/{id}/points?limit=0")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
}
