//! Bad input to the points API, under the Rust and the Python handler
//! alike: every malformed body, parameter and head gets a problem document
//! with the right status, names what was wrong, and stores nothing.

mod support;

use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};
use support::client;
use support::points::{Points, for_both_handlers, post_point, start};

for_both_handlers!(
    bad_input_gets_a_problem_document_and_stores_nothing,
    invalid_parameters_are_named_in_the_problem,
);

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
