//! The points API end to end: the real binary, a real PostGIS, and each
//! scenario twice: against the Rust `points` component and against the
//! Python one (handlers/python/points), which must answer the same.

mod support;

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, LOCATION};
use serde_json::{Value, json};
use support::{Host, TestDb, client, shipped_handlers, shipped_with_python_points};

/// Which points handler serves the routes.
#[derive(Debug, Clone, Copy)]
enum Points {
    Rust,
    Python,
}

static PYTHON_COMPILE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A database and a host serving the chosen points handler; the handlers
/// directory (for Python, a copy) lives as long as the host.
async fn start(points: Points) -> (TestDb, Host, Option<tempfile::TempDir>) {
    let db = TestDb::start();
    match points {
        Points::Rust => {
            let host = Host::serve(&db, &shipped_handlers(), &[]).await;
            (db, host, None)
        }
        Points::Python => {
            let handlers = shipped_with_python_points();
            // The first host compiles the 18 MB component into the suite's
            // shared cache; the others wait for it rather than compile it
            // again all at once.
            let _one_compile = PYTHON_COMPILE.lock().await;
            let host = Host::serve(&db, handlers.path(), &[]).await;
            (db, host, Some(handlers))
        }
    }
}

/// Each scenario as two tests, `rust::NAME` and `python::NAME`.
macro_rules! for_both_handlers {
    ($($scenario:ident),* $(,)?) => {
        mod rust {
            $(
                #[tokio::test(flavor = "multi_thread")]
                async fn $scenario() {
                    super::$scenario(super::Points::Rust).await;
                }
            )*
        }
        mod python {
            $(
                #[tokio::test(flavor = "multi_thread")]
                async fn $scenario() {
                    super::$scenario(super::Points::Python).await;
                }
            )*
        }
    };
}

for_both_handlers!(
    the_guides_curl_lines_store_and_list_paris,
    every_route_answers_as_documented,
    names_of_exactly_100_characters_are_kept_whole,
    bad_input_gets_a_problem_document_and_stores_nothing,
    invalid_parameters_are_named_in_the_problem,
);

async fn post_point(host: &Host, body: Value) -> reqwest::Response {
    client()
        .post(host.url("/point"))
        .json(&body)
        .send()
        .await
        .unwrap()
}

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

/// One bad request: what is sent and the status it must get.
struct Bad {
    what: &'static str,
    request: reqwest::RequestBuilder,
    status: StatusCode,
}

async fn bad_input_gets_a_problem_document_and_stores_nothing(points: Points) {
    let (db, host, _handlers) = start(points).await;
    let seeded = post_point(
        &host,
        json!({"name": "seed", "longitude": 1, "latitude": 1}),
    )
    .await;
    assert_eq!(seeded.status(), StatusCode::CREATED);

    let post_raw = |body: &str| {
        client()
            .post(host.url("/point"))
            .header(CONTENT_TYPE, "application/json")
            .body(body.to_owned())
    };
    let post_json = |body: Value| client().post(host.url("/point")).json(&body);
    let get = |path: &str| client().get(host.url(path));
    let bad = StatusCode::BAD_REQUEST;
    let cases = vec![
        Bad {
            what: "malformed JSON",
            request: post_raw(r#"{"longitude": 2.35, "latitude": "#),
            status: bad,
        },
        Bad {
            what: "empty body",
            request: post_raw(""),
            status: bad,
        },
        Bad {
            what: "JSON array",
            request: post_json(json!([2.35, 48.85, "Paris"])),
            status: bad,
        },
        Bad {
            what: "JSON string",
            request: post_json(json!("Paris")),
            status: bad,
        },
        Bad {
            what: "missing longitude",
            request: post_json(json!({"latitude": 1, "name": "x"})),
            status: bad,
        },
        Bad {
            what: "missing latitude",
            request: post_json(json!({"longitude": 1, "name": "x"})),
            status: bad,
        },
        Bad {
            what: "missing name",
            request: post_json(json!({"longitude": 1, "latitude": 1})),
            status: bad,
        },
        Bad {
            what: "null name",
            request: post_json(json!({"longitude": 1, "latitude": 1, "name": null})),
            status: bad,
        },
        Bad {
            what: "longitude as string",
            request: post_json(json!({"longitude": "2.35", "latitude": 1, "name": "x"})),
            status: bad,
        },
        Bad {
            what: "latitude as bool",
            request: post_json(json!({"longitude": 1, "latitude": true, "name": "x"})),
            status: bad,
        },
        Bad {
            what: "name as number",
            request: post_json(json!({"longitude": 1, "latitude": 1, "name": 7})),
            status: bad,
        },
        Bad {
            what: "longitude above 180",
            request: post_json(json!({"longitude": 180.0001, "latitude": 1, "name": "x"})),
            status: bad,
        },
        Bad {
            what: "longitude below -180",
            request: post_json(json!({"longitude": -181, "latitude": 1, "name": "x"})),
            status: bad,
        },
        Bad {
            what: "latitude above 90",
            request: post_json(json!({"longitude": 1, "latitude": 90.5, "name": "x"})),
            status: bad,
        },
        Bad {
            what: "latitude below -90",
            request: post_json(json!({"longitude": 1, "latitude": -90.0001, "name": "x"})),
            status: bad,
        },
        Bad {
            what: "non-finite number",
            request: post_raw(r#"{"longitude": 1e999, "latitude": 1, "name": "x"}"#),
            status: bad,
        },
        Bad {
            what: "NaN literal",
            request: post_raw(r#"{"longitude": NaN, "latitude": 1, "name": "x"}"#),
            status: bad,
        },
        Bad {
            what: "empty name",
            request: post_json(json!({"longitude": 1, "latitude": 1, "name": ""})),
            status: bad,
        },
        Bad {
            what: "blank name",
            request: post_json(json!({"longitude": 1, "latitude": 1, "name": "   "})),
            status: bad,
        },
        Bad {
            what: "101-character name",
            request: post_json(json!({"longitude": 1, "latitude": 1, "name": "n".repeat(101)})),
            status: bad,
        },
        Bad {
            what: "NUL in name",
            request: post_json(json!({"longitude": 1, "latitude": 1, "name": "a\u{0}b"})),
            status: bad,
        },
        Bad {
            what: "form-encoded body",
            request: client()
                .post(host.url("/point"))
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body("longitude=1&latitude=1&name=x"),
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
        },
        Bad {
            what: "limit=0",
            request: get("/points?limit=0"),
            status: bad,
        },
        Bad {
            what: "limit=-1",
            request: get("/points?limit=-1"),
            status: bad,
        },
        Bad {
            what: "limit above max",
            request: get("/points?limit=10001"),
            status: bad,
        },
        Bad {
            what: "limit not a number",
            request: get("/points?limit=ten"),
            status: bad,
        },
        Bad {
            what: "limit fractional",
            request: get("/points?limit=1.5"),
            status: bad,
        },
        Bad {
            what: "limit twice",
            request: get("/points?limit=1&limit=2"),
            status: bad,
        },
        Bad {
            what: "id not a number",
            request: get("/points/paris"),
            status: bad,
        },
        Bad {
            what: "id zero",
            request: get("/points/0"),
            status: bad,
        },
        Bad {
            what: "delete id not a number",
            request: client().delete(host.url("/points/x")),
            status: bad,
        },
        Bad {
            what: "unknown route",
            request: get("/nowhere"),
            status: StatusCode::NOT_FOUND,
        },
        Bad {
            what: "wrong method",
            request: client().put(host.url("/points/1")),
            status: StatusCode::METHOD_NOT_ALLOWED,
        },
        Bad {
            what: "wrong method on a host route",
            request: client().post(host.url("/status")),
            status: StatusCode::METHOD_NOT_ALLOWED,
        },
        Bad {
            what: "a file the map does not have",
            request: get("/map/nothing.js"),
            status: StatusCode::NOT_FOUND,
        },
    ];

    for case in cases {
        let before = db.count_points().await;
        let response = case.request.send().await.unwrap();
        assert_eq!(response.status(), case.status, "{}", case.what);
        assert_eq!(
            response.headers()[CONTENT_TYPE],
            "application/problem+json",
            "{}",
            case.what
        );
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["status"], case.status.as_u16(), "{}", case.what);
        for member in ["type", "title", "detail"] {
            assert!(
                problem[member].is_string(),
                "{}: no {member} in {problem}",
                case.what
            );
        }
        assert_eq!(
            db.count_points().await,
            before,
            "{} stored something",
            case.what
        );
    }

    // A host route's 405 names the methods it takes, as a handler route's does.
    let wrong = client().delete(host.url("/livez")).send().await.unwrap();
    assert_eq!(wrong.headers()["allow"], "GET,HEAD");

    // An oversized body is refused from its Content-Length, before a byte
    // of it is read, and stores nothing either.
    let before = db.count_points().await;
    let (status, content_type) = support::status_for_announced_body(
        &host.base,
        "POST",
        "/point",
        &[("Content-Type", "application/json")],
        200 << 10,
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE.as_u16());
    assert_eq!(content_type, "application/problem+json");
    assert_eq!(db.count_points().await, before);
    assert_eq!(db.count_points().await, 1);
}

async fn invalid_parameters_are_named_in_the_problem(points: Points) {
    let (_db, host, _handlers) = start(points).await;
    for (body, parameter) in [
        (
            json!({"longitude": 500, "latitude": 1, "name": "x"}),
            "longitude",
        ),
        (
            json!({"longitude": 1, "latitude": -100, "name": "x"}),
            "latitude",
        ),
        (json!({"longitude": 1, "latitude": 1, "name": ""}), "name"),
    ] {
        let problem: Value = post_point(&host, body).await.json().await.unwrap();
        assert_eq!(problem["parameter"], parameter, "{problem}");
        assert!(
            problem["detail"].as_str().unwrap().contains(parameter),
            "{problem}"
        );
    }
    let problem: Value = support::get_json(host.url("/points?limit=zero")).await;
    assert_eq!(problem["parameter"], "limit");
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
