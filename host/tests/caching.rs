//! Conditional requests and cache rules, as a browser or a caching proxy
//! uses them: a tag on every page, `304` while it holds, a new tag once a
//! write changes the page, and writes and errors never stored.

mod support;

use reqwest::StatusCode;
use reqwest::header::{
    ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_LENGTH, ETAG, IF_NONE_MATCH,
};
use serde_json::{Value, json};
use support::{Host, TestDb, client, shipped_handlers};

async fn start() -> (TestDb, Host) {
    let db = TestDb::start();
    let host = Host::serve(&db, &shipped_handlers(), &[]).await;
    db.client()
        .await
        .execute(
            "INSERT INTO points (name, geom) SELECT 'p' || g, \
             ST_SetSRID(ST_MakePoint(g, g / 2.0), 4326) FROM generate_series(1, 120) AS g",
            &[],
        )
        .await
        .unwrap();
    (db, host)
}

/// GET with `If-None-Match` (when given) and gzip accepted.
async fn get(host: &Host, path: &str, tag: Option<&str>) -> reqwest::Response {
    let mut request = client().get(host.url(path)).header(ACCEPT_ENCODING, "gzip");
    if let Some(tag) = tag {
        request = request.header(IF_NONE_MATCH, tag);
    }
    request.send().await.unwrap()
}

fn tag(response: &reqwest::Response) -> String {
    response.headers()[ETAG].to_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn pages_and_features_revalidate_until_a_write_changes_them() {
    let (_db, host) = start().await;
    for path in [
        "/collections/points/items?limit=100",
        "/collections/points/items/1",
        "/points",
        "/collections/points",
    ] {
        let first = get(&host, path, None).await;
        assert_eq!(first.status(), StatusCode::OK, "{path}");
        assert_eq!(first.headers()[CACHE_CONTROL], "no-cache", "{path}");
        let etag = tag(&first);
        assert!(
            etag.starts_with("W/\"") && etag.ends_with('"'),
            "{path}: {etag}"
        );
        assert!(!first.bytes().await.unwrap().is_empty());

        // The tag holds whatever the encoding: a compressed answer's and a
        // plain one's are the same page.
        let plain = client().get(host.url(path)).send().await.unwrap();
        assert_eq!(tag(&plain), etag, "{path}");

        let again = get(&host, path, Some(&etag)).await;
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{path}");
        assert_eq!(tag(&again), etag);
        assert_eq!(again.headers()[CACHE_CONTROL], "no-cache");
        assert!(again.headers().get(CONTENT_ENCODING).is_none());
        assert!(again.bytes().await.unwrap().is_empty());

        // Among other tags, or as `*`, it still matches; another does not.
        let listed = format!("\"stale\", {etag}");
        assert_eq!(
            get(&host, path, Some(&listed)).await.status(),
            StatusCode::NOT_MODIFIED
        );
        assert_eq!(
            get(&host, path, Some("*")).await.status(),
            StatusCode::NOT_MODIFIED
        );
        assert_eq!(
            get(&host, path, Some("W/\"stale\"")).await.status(),
            StatusCode::OK
        );
    }

    // A write is never stored, and changes the pages it shows on.
    let page = get(&host, "/points?limit=1000", None).await;
    let before = tag(&page);
    let posted = client()
        .post(host.url("/point"))
        .json(&json!({"name": "new", "longitude": 10.0, "latitude": 10.0}))
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), StatusCode::CREATED);
    assert_eq!(posted.headers()[CACHE_CONTROL], "no-store");
    assert!(posted.headers().get(ETAG).is_none());
    let after = client()
        .get(host.url("/points?limit=1000"))
        .header(IF_NONE_MATCH, &before)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), StatusCode::OK);
    let listed: Vec<Value> = after.json().await.unwrap();
    assert!(listed.iter().any(|p| p["name"] == "new"));
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_are_never_stored_nor_tagged() {
    let (_db, host) = start().await;
    for path in [
        "/collections/points/items/999999",
        "/collections/points/items?limit=-1",
        "/nowhere",
    ] {
        let response = get(&host, path, Some("*")).await;
        assert!(response.status().is_client_error(), "{path}");
        assert_eq!(response.headers()[CACHE_CONTROL], "no-store", "{path}");
        assert!(response.headers().get(ETAG).is_none(), "{path}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn head_answers_the_length_and_tag_a_get_would() {
    let (_db, host) = start().await;
    // A handler's route and a host route alike.
    for path in ["/points?limit=5", "/collections/points/items/1", "/livez"] {
        let full = client().get(host.url(path)).send().await.unwrap();
        let etag = tag(&full);
        let body = full.bytes().await.unwrap();

        let head = client().head(host.url(path)).send().await.unwrap();
        assert_eq!(head.status(), StatusCode::OK, "{path}");
        assert_eq!(
            head.headers()[CONTENT_LENGTH],
            body.len().to_string().as_str(),
            "{path}: HEAD must not announce an empty body"
        );
        assert_eq!(tag(&head), etag, "{path}");
        assert_eq!(head.headers()[CACHE_CONTROL], "no-cache", "{path}");
        assert!(head.bytes().await.unwrap().is_empty(), "{path}");

        let held = client()
            .head(host.url(path))
            .header(IF_NONE_MATCH, &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(held.status(), StatusCode::NOT_MODIFIED, "{path}");
    }
}
