//! The feeds application, black-box: feeds registered by URL, pulled from
//! upstream servers on loopback with the operator's secret, stored whole
//! or not at all; every way an upstream can fail refused with nothing
//! stored; two replicas on one database pulling on a 2-second schedule,
//! once per period.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode as AxumStatus, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, head};
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{Host, TestDb, client, handlers_dir, shipped};

const TOKEN: &str = "feeds-upstream-s3cret";

/// The upstream: the collection it serves now, the pulls it saw.
#[derive(Clone)]
struct Upstream {
    port: u16,
    collection: Arc<Mutex<Value>>,
    pulls: Arc<Mutex<usize>>,
    authorization: Arc<Mutex<Option<String>>>,
}

async fn serve_feed(
    State(up): State<Upstream>,
    Path(what): Path<String>,
    headers: HeaderMap,
) -> Response {
    *up.authorization.lock().unwrap() = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    match what.as_str() {
        "fc" => {
            *up.pulls.lock().unwrap() += 1;
            let body = up.collection.lock().unwrap().to_string();
            ([(header::CONTENT_TYPE, "application/geo+json")], body).into_response()
        }
        "invalid" => "this is not GeoJSON".into_response(),
        "no-ids" => json!({"type": "FeatureCollection", "features": [
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [1, 2]}}
        ]})
        .to_string()
        .into_response(),
        "bad-geometry" => json!({"type": "FeatureCollection", "features": [
            {"type": "Feature", "id": "a", "geometry": {"type": "Point", "coordinates": [1, 2]}},
            {"type": "Feature", "id": "b", "geometry": {"type": "Pointy", "coordinates": "x"}}
        ]})
        .to_string()
        .into_response(),
        "redirect" => (
            AxumStatus::FOUND,
            [(header::LOCATION, "http://10.0.0.1/fc")],
        )
            .into_response(),
        "huge" => {
            let chunk = axum::body::Bytes::from(vec![b' '; 1 << 20]);
            let stream = futures_util::stream::iter(
                (0..64).map(move |_| Ok::<_, std::io::Error>(chunk.clone())),
            );
            axum::body::Body::from_stream(stream).into_response()
        }
        "slow" => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            "{}".into_response()
        }
        _ => AxumStatus::NOT_FOUND.into_response(),
    }
}

async fn upstream() -> Upstream {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let up = Upstream {
        port: listener.local_addr().unwrap().port(),
        collection: Arc::new(Mutex::new(two_cities())),
        pulls: Arc::default(),
        authorization: Arc::default(),
    };
    let app = Router::new()
        .route("/{what}", get(serve_feed))
        .route("/{what}", head(|| async { AxumStatus::OK }))
        .with_state(up.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    up
}

fn two_cities() -> Value {
    json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": "paris", "properties": {"name": "Paris"},
         "geometry": {"type": "Point", "coordinates": [2.35, 48.85]}},
        {"type": "Feature", "id": 7, "properties": {"name": "Lyon"},
         "geometry": {"type": "Point", "coordinates": [4.83, 45.76]}}
    ]})
}

/// A handlers directory serving feeds, allowed to call `port` only, with
/// a 2-second deadline and schedule.
fn feeds_dir(port: u16) -> tempfile::TempDir {
    let manifest = format!(
        "[handlers.feeds]\ncomponent = \"feeds.wasm\"\n\
         [handlers.feeds.limits]\ndeadline_ms = 4000\n\
         [handlers.feeds.outbound]\nallowed_hosts = [\"http://127.0.0.1:{port}\"]\n\
         [handlers.feeds.variables]\npull_every = \"0s\"\n\
         [handlers.feeds.schedules.pull]\nevery = \"2s\"\n"
    );
    handlers_dir(&manifest, &[("feeds.wasm", shipped("feeds"))])
}

async fn feeds_host(db: &TestDb, dir: &std::path::Path) -> Host {
    let mut command = Host::serve_command(db, dir);
    command
        .args(["--listen", "127.0.0.1:0"])
        .env("GEOFN_VAR_FEEDS_TOKEN", TOKEN);
    Host::spawn(command).await
}

async fn call(
    host: &Host,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = client().request(method, host.url(path));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn ids(collection: &Value) -> Vec<String> {
    let mut ids: Vec<String> = collection["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread")]
async fn feeds_pull_with_the_secret_store_whole_and_refuse_every_bad_upstream() {
    let up = upstream().await;
    let db = TestDb::start();
    let dir = feeds_dir(up.port);
    let host = feeds_host(&db, dir.path()).await;
    let base = format!("http://127.0.0.1:{}", up.port);

    let (status, feed) = call(
        &host,
        reqwest::Method::PUT,
        "/feeds/cities",
        Some(json!({"url": format!("{base}/fc")})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{feed}");
    // A host the handler may not call: a 400 naming url, nothing stored.
    for url in [
        "http://127.0.0.1:9/fc",
        "http://169.254.169.254/latest/meta-data/",
    ] {
        let (status, problem) = call(
            &host,
            reqwest::Method::PUT,
            "/feeds/stolen",
            Some(json!({"url": url})),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{url}: {problem}");
        assert_eq!(problem["parameter"], "url");
    }
    assert_eq!(
        call(&host, reqwest::Method::GET, "/feeds/stolen", None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );

    let (status, counts) = call(&host, reqwest::Method::POST, "/feeds/cities/pull", None).await;
    assert_eq!(status, StatusCode::OK, "{counts}");
    assert_eq!(
        (counts["features"].as_i64(), counts["deleted"].as_i64()),
        (Some(2), Some(0))
    );
    assert_eq!(
        up.authorization.lock().unwrap().clone(),
        Some(format!("Bearer {TOKEN}"))
    );
    let (status, items) = call(&host, reqwest::Method::GET, "/feeds/cities/items", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ids(&items), ["7", "paris"]);
    let (_, lyon) = call(
        &host,
        reqwest::Method::GET,
        "/feeds/cities/items?bbox=4,45,5,46",
        None,
    )
    .await;
    assert_eq!(ids(&lyon), ["7"]);

    // Lyon gone, Paris moved: one upsert, one delete.
    *up.collection.lock().unwrap() = json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": "paris", "properties": {"name": "Paris"},
         "geometry": {"type": "Point", "coordinates": [2.40, 48.90]}}
    ]});
    let (_, counts) = call(&host, reqwest::Method::POST, "/feeds/cities/pull", None).await;
    assert_eq!(
        (counts["features"].as_i64(), counts["deleted"].as_i64()),
        (Some(1), Some(1))
    );
    let (_, items) = call(&host, reqwest::Method::GET, "/feeds/cities/items", None).await;
    assert_eq!(
        items["features"][0]["geometry"]["coordinates"],
        json!([2.4, 48.9])
    );

    // Every bad answer: 502 (504 when slow), and the feed keeps what it had.
    for (what, expected) in [
        ("invalid", StatusCode::BAD_GATEWAY),
        ("no-ids", StatusCode::BAD_GATEWAY),
        ("bad-geometry", StatusCode::BAD_GATEWAY),
        ("redirect", StatusCode::BAD_GATEWAY),
        ("huge", StatusCode::BAD_GATEWAY),
        ("slow", StatusCode::GATEWAY_TIMEOUT),
    ] {
        call(
            &host,
            reqwest::Method::PUT,
            "/feeds/cities",
            Some(json!({"url": format!("{base}/{what}")})),
        )
        .await;
        let started = Instant::now();
        let (status, problem) =
            call(&host, reqwest::Method::POST, "/feeds/cities/pull", None).await;
        assert_eq!(status, expected, "{what}: {problem}");
        assert!(
            started.elapsed() < Duration::from_secs(8),
            "{what} took {:?}",
            started.elapsed()
        );
        let (_, items) = call(&host, reqwest::Method::GET, "/feeds/cities/items", None).await;
        assert_eq!(ids(&items), ["paris"], "{what} changed the stored features");
    }
    let (status, _) = call(&host, reqwest::Method::GET, "/status", None).await;
    assert_eq!(status, StatusCode::OK, "the replica stays healthy");
    assert!(!host.logs().contains(TOKEN), "the secret is in the log");
}

#[tokio::test(flavor = "multi_thread")]
async fn two_replicas_pull_once_per_period_and_both_serve_the_result() {
    let up = upstream().await;
    let db = TestDb::start();
    let dir = feeds_dir(up.port);
    let (a, b) = tokio::join!(feeds_host(&db, dir.path()), feeds_host(&db, dir.path()));
    let url = format!("http://127.0.0.1:{}/fc", up.port);
    let (status, _) = call(
        &a,
        reqwest::Method::PUT,
        "/feeds/cities",
        Some(json!({"url": url})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    // The schedule's first tick comes one period after the replicas start.
    let deadline = Instant::now() + Duration::from_secs(10);
    while *up.pulls.lock().unwrap() == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let first = *up.pulls.lock().unwrap();
    assert_eq!(first, 1, "{}", a.logs());
    // Three more periods, one pull each whichever replica wins the tick.
    // Waited for, not slept through: on a loaded machine a tick runs late
    // (a second late once, with builds sharing the cores). Each tick is
    // due a period after the one before, so the fourth pull cannot come
    // before three periods from the first's due time: four pulls much
    // sooner would mean a period pulled by both replicas.
    let started = Instant::now();
    let deadline = started + Duration::from_secs(20);
    while *up.pulls.lock().unwrap() < 4 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let took = started.elapsed();
    let pulls = *up.pulls.lock().unwrap();
    assert_eq!(pulls, 4, "{pulls} pulls in {took:?} of a 2-second schedule");
    assert!(
        took >= Duration::from_secs(3),
        "three more pulls in {took:?}, under 3 s: both replicas pulled a period"
    );
    for host in [&a, &b] {
        let (_, items) = call(host, reqwest::Method::GET, "/feeds/cities/items", None).await;
        assert_eq!(ids(&items), ["7", "paris"]);
    }
}
