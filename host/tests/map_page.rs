//! The map page in a real browser: headless Chromium (Debian's) driven by
//! Playwright draws the seeded points from their vector tiles, names one,
//! adds one by clicking, and the API finds it. The screenshot lands in `target/reports/map.png`.

mod support;

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use serde_json::{Value, json};
use support::{Host, TestDb, client, shipped_handlers, target_dir};

#[tokio::test(flavor = "multi_thread")]
async fn browsers_get_the_map_and_api_clients_the_landing_page() {
    let db = TestDb::start();
    let host = Host::serve(&db, &shipped_handlers(), &[]).await;
    let page = client()
        .get(host.url("/"))
        .header(ACCEPT, "text/html,application/xhtml+xml,*/*;q=0.8")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let csp = page.headers()[CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("default-src 'none'") && !csp.contains("unsafe"),
        "{csp}"
    );
    let html = page.text().await.unwrap();
    assert!(
        !html.contains("<script>") && !html.contains("style="),
        "inline code in the page"
    );

    let landing: Value = support::get_json(host.url("/")).await;
    assert!(landing["links"].is_array(), "{landing}");
    for asset in [
        "app.js",
        "maplibre-gl.js",
        "maplibre-gl-csp-worker.js",
        "maplibre-gl.css",
        "app.css",
        "land.geojson",
    ] {
        let response = client()
            .get(host.url(&format!("/map/{asset}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{asset}");
    }
    let land: Value = support::get_json(host.url("/map/land.geojson")).await;
    assert_eq!(land["type"], "FeatureCollection");
}

#[tokio::test(flavor = "multi_thread")]
async fn chromium_sees_the_points_and_adds_one_by_clicking() {
    let db = TestDb::start();
    let host = Host::serve(&db, &shipped_handlers(), &[]).await;
    for (name, lon, lat) in [
        ("Paris", 2.3522, 48.8566),
        ("Nairobi", 36.8219, -1.2921),
        ("Lima", -77.0428, -12.0464),
    ] {
        let response = client()
            .post(host.url("/point"))
            .json(&json!({"name": name, "longitude": lon, "latitude": lat}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    let tools = target_dir().join("tools/node/node_modules/playwright-core/index.mjs");
    assert!(
        tools.exists(),
        "{} missing: run `make test-deps`",
        tools.display()
    );
    let reports = target_dir().join("reports");
    std::fs::create_dir_all(&reports).unwrap();
    let screenshot = reports.join("map.png");
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/map.mjs");
    let output = tokio::process::Command::new("node")
        .arg(&script)
        .arg(&host.base)
        .arg(&screenshot)
        .env("PLAYWRIGHT_CORE", &tools)
        .output()
        .await
        .expect("node not runnable");
    assert!(
        output.status.success(),
        "browser script failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        std::fs::metadata(&screenshot).unwrap().len() > 10_000,
        "empty screenshot"
    );

    // The API, not the page, says the point exists.
    let points: Vec<Value> = support::get_json(host.url("/points")).await;
    let added = points
        .iter()
        .find(|p| p["name"] == "Clicked from Chromium")
        .unwrap_or_else(|| panic!("the clicked point is not stored: {points:?}"));
    let (lon, lat) = (
        added["longitude"].as_f64().unwrap(),
        added["latitude"].as_f64().unwrap(),
    );
    assert!(
        (-180.0..=180.0).contains(&lon) && (-90.0..=90.0).contains(&lat),
        "{added}"
    );
}
