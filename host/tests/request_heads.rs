//! A request whose head passes the host's bounds — its target or its
//! header fields — gets a problem document and changes nothing stored,
//! on handler routes and host routes alike; the bounds are settings.

mod support;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{Host, TestDb, client, shipped_handlers};

/// The answer's status, and its body as a problem document (asserting it is one).
async fn problem(answer: reqwest::Response) -> (StatusCode, Value) {
    let status = answer.status();
    let content_type = answer.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(content_type, "application/problem+json", "{status}");
    (status, answer.json().await.unwrap())
}

fn paris() -> Value {
    json!({"longitude": 2.3522, "latitude": 48.8566, "name": "Paris"})
}

#[tokio::test(flavor = "multi_thread")]
async fn heads_past_the_set_bounds_are_refused_and_store_nothing() {
    let db = TestDb::start();
    let limits = ["--max-uri-kib", "4", "--max-header-kib", "8"];
    let host = Host::serve(&db, &shipped_handlers(), &limits).await;
    let http = client();

    // Just inside both bounds: the handler answers and the point is stored.
    let target = host.url(&format!("/point?pad={}", "a".repeat(4000)));
    let answer = http
        .post(&target)
        .header("x-pad", "v".repeat(7000))
        .json(&paris())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::CREATED);
    assert_eq!(db.count_points().await, 1);

    let target = host.url(&format!("/point?pad={}", "a".repeat(4200)));
    let answer = http.post(&target).json(&paris()).send().await.unwrap();
    let (status, body) = problem(answer).await;
    assert_eq!(status, StatusCode::URI_TOO_LONG);
    assert_eq!(body["status"], 414);
    assert!(body["detail"].as_str().unwrap().contains("4096"), "{body}");

    // Many fields, each small: they count together.
    let mut post = http.post(host.url("/point")).json(&paris());
    for i in 0..20 {
        post = post.header(format!("x-pad-{i}"), "v".repeat(500));
    }
    let (status, body) = problem(post.send().await.unwrap()).await;
    assert_eq!(status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    assert_eq!(body["status"], 431);
    assert_eq!(db.count_points().await, 1, "a refused head stored a point");

    // A host route is held to the same bounds.
    let answer = http
        .get(host.url("/status"))
        .header("x-pad", "v".repeat(9000))
        .send()
        .await
        .unwrap();
    let (status, _) = problem(answer).await;
    assert_eq!(status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);

    // The connection that carried a refusal still serves.
    let answer = http.get(host.url("/points")).send().await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
}

/// Without settings, a field of 100 KB — far inside what hyper alone
/// would read — is refused before it reaches a handler.
#[tokio::test(flavor = "multi_thread")]
async fn the_default_bounds_refuse_what_no_real_client_sends() {
    let db = TestDb::start();
    let host = Host::serve(&db, &shipped_handlers(), &[]).await;
    let http = client();

    let answer = http
        .get(host.url("/points"))
        .header("cookie", "c".repeat(100_000))
        .send()
        .await
        .unwrap();
    let (status, _) = problem(answer).await;
    assert_eq!(status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);

    let long = format!("/points?bbox=0,0,1,1&pad={}", "a".repeat(20_000));
    let (status, body) = problem(http.get(host.url(&long)).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::URI_TOO_LONG);
    assert!(body["detail"].as_str().unwrap().contains("16384"), "{body}");

    // A real client's head is well inside: a query with a 600-vertex
    // polygon in its filter, a cookie of a few KiB.
    let filter = support::circle_filter(600);
    let answer = http
        .get(host.url("/collections/points/items"))
        .query(&[("filter", filter.as_str())])
        .header("cookie", format!("session={}", "s".repeat(4000)))
        .send()
        .await
        .unwrap();
    let url_bytes = answer.url().as_str().len();
    assert_eq!(answer.status(), StatusCode::OK, "a {url_bytes}-byte URL");
    assert!(
        url_bytes > 8 << 10,
        "{url_bytes}: meant to pass nginx's 8 KiB line"
    );
}

/// Over HTTP/2 the same bounds hold: h2's own bound on a header list
/// (16 KiB by default) would otherwise refuse what HTTP/1.1 takes.
#[tokio::test(flavor = "multi_thread")]
async fn http2_heads_meet_the_same_bounds() {
    let db = TestDb::start();
    let host = Host::serve(&db, &shipped_handlers(), &[]).await;
    let h2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();

    let answer = h2
        .get(host.url("/points"))
        .header("cookie", "c".repeat(20_000))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.version(), reqwest::Version::HTTP_2);
    assert_eq!(answer.status(), StatusCode::OK);

    let answer = h2
        .get(host.url("/points"))
        .header("cookie", "c".repeat(40_000))
        .send()
        .await
        .unwrap();
    let (status, _) = problem(answer).await;
    assert_eq!(status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
}
