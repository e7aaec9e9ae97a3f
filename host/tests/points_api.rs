//! The points API end to end: the real binary, a real PostGIS, and each
//! scenario twice: against the Rust `points` component and against the
//! Python one (handlers/python/points), which must answer the same.
//! Bad input is `points_bad_input.rs`.

mod support;

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, LOCATION};
use serde_json::{Value, json};
use support::points::{PYTHON_COMPILE, Points, for_both_handlers, post_point, start};
use support::{Host, TestDb, client, shipped_handlers, shipped_with_python_points};

for_both_handlers!(
    the_guides_curl_lines_store_and_list_paris,
    every_route_answers_as_documented,
    names_of_exactly_100_characters_are_kept_whole,
);

async fn the_guides_curl_lines_store_and_list_paris(points: Points) {
    let (db, host, _handlers) = start(points).await;
    // curl -X POST .../point -H "Content-Type: application/json" -d '{...}'
    let response = client()
        .post(host.url("/point"))
        .header(CONTENT_TYPE, "application/json")
        .body(r#"{"longitude": 2.3522, "latitude": 48.8566, "name": "Paris"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()[LOCATION].to_str().unwrap().to_owned();
    let created: Value = response.json().await.unwrap();
    assert_eq!(location, format!("/points/{}", created["id"]));
    assert_eq!(created["name"], "Paris");
    assert_eq!(created["longitude"], 2.3522);
    assert_eq!(created["latitude"], 48.8566);

    // curl .../points
    let listed: Value = support::get_json(host.url("/points")).await;
    assert_eq!(
        listed,
        json!([{"id": created["id"], "name": "Paris", "longitude": 2.3522, "latitude": 48.8566}])
    );

    // Stored as a real PostGIS point in EPSG:4326, not as text.
    let row = db
        .client()
        .await
        .query_one(
            "SELECT ST_X(geom), ST_Y(geom), ST_SRID(geom), GeometryType(geom) FROM points",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, f64>(0), 2.3522);
    assert_eq!(row.get::<_, f64>(1), 48.8566);
    assert_eq!(row.get::<_, i32>(2), 4326);
    assert_eq!(row.get::<_, String>(3), "POINT");
}

async fn every_route_answers_as_documented(points: Points) {
    let (db, host, _handlers) = start(points).await;
    let mut ids = Vec::new();
    for (name, lon, lat) in [
        ("London", -0.1276, 51.5072),
        ("Berlin", 13.405, 52.52),
        ("Zoë's café", 151.2093, -33.8688),
    ] {
        let response = post_point(
            &host,
            json!({"name": name, "longitude": lon, "latitude": lat}),
        )
        .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["name"], name);
        ids.push(body["id"].as_i64().unwrap());
    }

    // Newest first, default limit covers all three.
    let listed: Vec<Value> = support::get_json(host.url("/points")).await;
    let listed_ids: Vec<i64> = listed.iter().map(|p| p["id"].as_i64().unwrap()).collect();
    assert_eq!(listed_ids, ids.iter().rev().copied().collect::<Vec<_>>());

    // limit cuts from the newest.
    let limited: Vec<Value> = support::get_json(host.url("/points?limit=2")).await;
    assert_eq!(limited.len(), 2);
    assert_eq!(limited[0]["id"], ids[2]);
    let at_max = client()
        .get(host.url("/points?limit=10000"))
        .send()
        .await
        .unwrap();
    assert_eq!(at_max.status(), StatusCode::OK);

    // One point.
    let one = client()
        .get(host.url(&format!("/points/{}", ids[1])))
        .send()
        .await
        .unwrap();
    assert_eq!(one.status(), StatusCode::OK);
    let one: Value = one.json().await.unwrap();
    assert_eq!(
        one,
        json!({"id": ids[1], "name": "Berlin", "longitude": 13.405, "latitude": 52.52})
    );

    // Delete, then it is gone; deleting again is 404.
    let deleted = client()
        .delete(host.url(&format!("/points/{}", ids[1])))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_eq!(db.count_points().await, 2);
    for request in [
        client().get(host.url(&format!("/points/{}", ids[1]))),
        client().delete(host.url(&format!("/points/{}", ids[1]))),
        client().get(host.url("/points/999999")),
    ] {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(response.headers()[CONTENT_TYPE], "application/problem+json");
    }
}

async fn names_of_exactly_100_characters_are_kept_whole(points: Points) {
    let (_db, host, _handlers) = start(points).await;
    for name in ["a".repeat(100), "é".repeat(100), "日本".repeat(50)] {
        let response =
            post_point(&host, json!({"name": name, "longitude": 0, "latitude": 0})).await;
        assert_eq!(response.status(), StatusCode::CREATED, "{name}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["name"], name.as_str());
        assert_eq!(body["longitude"], 0.0);
    }
    // The edges of the coordinate ranges are valid.
    for (lon, lat) in [(180.0, 90.0), (-180.0, -90.0)] {
        let response = post_point(
            &host,
            json!({"name": "edge", "longitude": lon, "latitude": lat}),
        )
        .await;
        assert_eq!(response.status(), StatusCode::CREATED, "{lon},{lat}");
    }
}

/// One database, both handlers: a listing the Python handler answers (its
/// rows rendered to JSON by the host) is byte for byte the Rust handler's,
/// awkward floats, escapes and non-ASCII names included.
#[tokio::test(flavor = "multi_thread")]
async fn both_handlers_list_the_same_points_in_the_same_bytes() {
    let db = TestDb::start();
    let rust = Host::serve(&db, &shipped_handlers(), &[]).await;
    let handlers = shipped_with_python_points();
    let python = {
        let _one_compile = PYTHON_COMPILE.lock().await;
        Host::serve(&db, handlers.path(), &[]).await
    };
    for (longitude, latitude, name) in [
        (2.3522, 48.8566, "Paris"),
        (-180.0, 90.0, "corner"),
        (0.1 + 0.2, -1e-7, "tab\there \"quoted\""),
        (179.99999999999997, -0.0, "Zürich ✓"),
    ] {
        let body = json!({"longitude": longitude, "latitude": latitude, "name": name});
        assert_eq!(post_point(&rust, body).await.status(), StatusCode::CREATED);
    }
    for path in ["/points", "/points?limit=2"] {
        let from_rust = client().get(rust.url(path)).send().await.unwrap();
        let from_python = client().get(python.url(path)).send().await.unwrap();
        assert_eq!(from_python.status(), from_rust.status(), "{path}");
        assert_eq!(
            from_python.headers()[CONTENT_TYPE],
            from_rust.headers()[CONTENT_TYPE],
            "{path}"
        );
        let (rust_body, python_body) = (
            from_rust.text().await.unwrap(),
            from_python.text().await.unwrap(),
        );
        assert_eq!(python_body, rust_body, "{path}");
    }
}
