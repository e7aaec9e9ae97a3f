//! OGC API – Features, checked by hand and by GDAL's OAPIF driver.

mod support;

use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};
use support::{Host, TestDb, client, shipped_handlers};

async fn start_with_grid(n: i64) -> (TestDb, Host) {
    let db = TestDb::start();
    let host = Host::serve(&db, &shipped_handlers(), &[]).await;
    // A grid of named points with exactly representable coordinates.
    db.client()
        .await
        .execute(
            "INSERT INTO points (name, geom) SELECT 'p' || g, \
             ST_SetSRID(ST_MakePoint(-170 + (g % 50) * 6.5, -80 + (g / 50) * 0.5), 4326) \
             FROM generate_series(0, $1::int8 - 1) AS g",
            &[&n],
        )
        .await
        .unwrap();
    (db, host)
}

async fn get(host: &Host, path: &str) -> (StatusCode, String, Value) {
    let response = client().get(host.url(path)).send().await.unwrap();
    let status = response.status();
    let media = response
        .headers()
        .get(CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, media, response.json().await.unwrap_or(Value::Null))
}

fn link<'a>(document: &'a Value, rel: &str) -> &'a str {
    document["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["rel"] == rel)
        .unwrap_or_else(|| panic!("no {rel} link in {document}"))["href"]
        .as_str()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_documents_of_part_1_core() {
    let (_db, host) = start_with_grid(25).await;
    let (status, _, landing) = get(&host, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(link(&landing, "conformance"), host.url("/conformance"));
    assert_eq!(link(&landing, "data"), host.url("/collections"));
    let (status, media, api) = get(&host, "/api").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        media.starts_with("application/vnd.oai.openapi+json"),
        "{media}"
    );
    assert_eq!(api["openapi"], "3.0.3");
    assert_eq!(link(&landing, "service-desc"), host.url("/api"));

    let (_, _, conformance) = get(&host, "/conformance").await;
    let classes = conformance["conformsTo"].as_array().unwrap();
    for class in ["core", "geojson", "oas30"] {
        let uri = format!("http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/{class}");
        assert!(classes.contains(&json!(uri)), "{class} missing");
    }

    let (_, _, collections) = get(&host, "/collections").await;
    assert_eq!(collections["collections"][0]["id"], "points");
    let (_, _, collection) = get(&host, "/collections/points").await;
    assert_eq!(
        collection["extent"]["spatial"]["bbox"][0]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    assert_eq!(
        link(&collection, "items"),
        host.url("/collections/points/items")
    );

    let (status, media, items) = get(&host, "/collections/points/items?limit=10").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(media, "application/geo+json");
    assert_eq!(items["numberReturned"], 10);
    assert_eq!(items["numberMatched"], 25);
    assert!(items["timeStamp"].as_str().unwrap().contains('T'));
    let next = link(&items, "next").to_owned();
    assert!(
        next.starts_with(&host.url("/collections/points/items?")),
        "{next}"
    );

    let id = items["features"][0]["id"].as_i64().unwrap();
    let (status, _, feature) = get(&host, &format!("/collections/points/items/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(feature["id"], id);
    assert_eq!(
        link(&feature, "collection"),
        host.url("/collections/points")
    );

    // bbox filters items; numberMatched follows the filter.
    let (_, _, boxed) = get(&host, "/collections/points/items?bbox=-171,-81,-150,-79").await;
    assert_eq!(boxed["numberMatched"], 4, "{boxed}");
}

/// A page costs a page however large the table: `numberMatched` is exact
/// up to the cap (free when a first page holds every match), left out
/// beyond it and on pages a cursor reaches; `next` links are unaffected.
#[tokio::test(flavor = "multi_thread")]
async fn number_matched_is_exact_up_to_its_cap_and_left_out_beyond() {
    let (_db, host) = start_with_grid(10_001).await;
    let (_, _, first) = get(&host, "/collections/points/items?limit=10").await;
    assert_eq!(first["numberReturned"], 10);
    assert!(
        first.get("numberMatched").is_none(),
        "{}",
        first["numberMatched"]
    );
    let next = link(&first, "next").to_owned();
    let (status, _, second) = get(&host, next.strip_prefix(&host.url("")).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(second["numberReturned"], 10);
    assert!(second.get("numberMatched").is_none(), "{second}");
    assert_ne!(second["features"][0]["id"], first["features"][0]["id"]);

    // One column of the grid: 201 points, counted exactly.
    let column = "bbox=-171,-90,-169,90";
    let (_, _, counted) = get(
        &host,
        &format!("/collections/points/items?limit=10&{column}"),
    )
    .await;
    assert_eq!(counted["numberMatched"], 201, "{counted}");
    let (_, _, whole) = get(
        &host,
        &format!("/collections/points/items?limit=1000&{column}"),
    )
    .await;
    assert_eq!(whole["numberReturned"], 201);
    assert_eq!(whole["numberMatched"], 201);
    // A cursor's page leaves it out, but the cursor still filters.
    let next = link(&counted, "next").to_owned();
    let (_, _, later) = get(&host, next.strip_prefix(&host.url("")).unwrap()).await;
    assert!(later.get("numberMatched").is_none(), "{later}");
    assert!(
        later["features"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["geometry"]["coordinates"][0] == -170.0),
        "{later}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn links_follow_the_host_the_client_used() {
    let (_db, host) = start_with_grid(3).await;
    let landing: Value = client()
        .get(host.url("/"))
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-host", "maps.example.org")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        link(&landing, "data"),
        "https://maps.example.org/collections"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_requests_get_404_or_400() {
    let (_db, host) = start_with_grid(3).await;
    for (path, status, parameter) in [
        ("/collections/nope", StatusCode::NOT_FOUND, None),
        ("/collections/nope/items", StatusCode::NOT_FOUND, None),
        (
            "/collections/points/items/999999",
            StatusCode::NOT_FOUND,
            None,
        ),
        ("/collections/points/items/abc", StatusCode::NOT_FOUND, None),
        (
            "/collections/points/items?colour=red",
            StatusCode::BAD_REQUEST,
            Some("colour"),
        ),
        (
            "/collections/points/items?bbox=1,2",
            StatusCode::BAD_REQUEST,
            Some("bbox"),
        ),
        (
            "/collections/points/items?limit=10001",
            StatusCode::BAD_REQUEST,
            Some("limit"),
        ),
        (
            "/collections/points/items?datetime=soon",
            StatusCode::BAD_REQUEST,
            Some("datetime"),
        ),
        ("/collections?f=html", StatusCode::BAD_REQUEST, Some("f")),
    ] {
        let (got, media, problem) = get(&host, path).await;
        assert_eq!(got, status, "{path}");
        assert_eq!(media, "application/problem+json", "{path}");
        if let Some(parameter) = parameter {
            assert_eq!(problem["parameter"], parameter, "{path}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn datetime_filters_on_creation_time() {
    let (db, host) = start_with_grid(4).await;
    db.client()
        .await
        .execute(
            "UPDATE points SET created_at = '2020-01-15T12:00:00Z' WHERE name IN ('p0', 'p1')",
            &[],
        )
        .await
        .unwrap();
    let matched = |query: &'static str| {
        let host = &host;
        async move {
            get(host, &format!("/collections/points/items?{query}"))
                .await
                .2["numberMatched"]
                .clone()
        }
    };
    assert_eq!(matched("datetime=2020-01-15").await, 2);
    assert_eq!(matched("datetime=2020-01-15T12:00:00Z").await, 2);
    assert_eq!(matched("datetime=../2020-12-31").await, 2);
    assert_eq!(matched("datetime=2021-01-01T00:00:00Z/..").await, 2);
    assert_eq!(matched("datetime=2020-01-16/..").await, 2);
    assert_eq!(matched("datetime=2019-01-01/2020-01-14").await, 0);
    // Empty is valid against the document's schema for it: no filter.
    assert_eq!(matched("datetime=").await, 4);
}

/// Runs a GDAL tool; its stdout.
fn gdal(tool: &str, args: &[&str]) -> String {
    let output = std::process::Command::new(tool)
        .args(args)
        // No GDAL config from the environment; no network but ours.
        .env("GDAL_HTTP_TIMEOUT", "30")
        .env_remove("http_proxy")
        .env_remove("HTTP_PROXY")
        .output()
        .unwrap_or_else(|e| panic!("{tool} not runnable (install gdal-bin): {e}"));
    assert!(
        output.status.success(),
        "{tool} {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn gdal_reads_the_layer_and_exports_every_point() {
    let (db, host) = start_with_grid(1234).await;
    let source = format!("OAPIF:{}", host.base);

    let info = tokio::task::spawn_blocking({
        let source = source.clone();
        move || gdal("ogrinfo", &["-ro", "-so", &source, "points"])
    })
    .await
    .unwrap();
    assert!(info.contains("Layer name: points"), "{info}");
    assert!(info.contains("Feature Count: 1234"), "{info}");
    assert!(info.contains("Point"), "{info}");

    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("points.geojson");
    let target = file.to_str().unwrap().to_owned();
    tokio::task::spawn_blocking(move || {
        gdal("ogr2ogr", &["-f", "GeoJSON", &target, &source, "points"])
    })
    .await
    .unwrap();
    let exported: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    let features = exported["features"].as_array().unwrap();
    assert_eq!(features.len(), 1234);

    let stored: std::collections::HashMap<String, (f64, f64)> = db
        .client()
        .await
        .query("SELECT name, ST_X(geom), ST_Y(geom) FROM points", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), (r.get(1), r.get(2))))
        .collect();
    let mut seen = std::collections::HashSet::new();
    for feature in features {
        let name = feature["properties"]["name"].as_str().unwrap();
        let coordinates = &feature["geometry"]["coordinates"];
        let (x, y) = stored[name];
        assert_eq!(coordinates[0].as_f64().unwrap(), x, "{name}");
        assert_eq!(coordinates[1].as_f64().unwrap(), y, "{name}");
        assert!(seen.insert(name.to_owned()), "{name} exported twice");
    }
}
