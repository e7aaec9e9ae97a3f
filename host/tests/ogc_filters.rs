//! OGC API – Features Part 2 (CRS) and Part 3 (CQL2 filters over the
//! queryables) against a real PostGIS, by hand and by GDAL's OAPIF driver.

mod support;

use std::collections::BTreeSet;

use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};
use support::{Host, TestDb, client, shipped_handlers};

/// Cities with known coordinates; Paris and Lyon stored in 2020.
const CITIES: &[(&str, f64, f64)] = &[
    ("Paris", 2.3522, 48.856614),
    ("Lyon", 4.8357, 45.764),
    ("Marseille", 5.3698, 43.2965),
    ("Berlin", 13.405, 52.52),
    ("Suva", 178.4419, -18.1416),
    ("O'Brien's", -9.05, 53.27),
];

async fn start_with_cities() -> (TestDb, Host) {
    let db = TestDb::start();
    let host = Host::serve(&db, &shipped_handlers(), &[]).await;
    db.insert_points(CITIES).await;
    db.client()
        .await
        .execute(
            "UPDATE points SET created_at = '2020-01-15T12:00:00Z' WHERE name IN ('Paris', 'Lyon')",
            &[],
        )
        .await
        .unwrap();
    (db, host)
}

async fn get(host: &Host, path: &str) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let response = client().get(host.url(path)).send().await.unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    (
        status,
        headers,
        response.json().await.unwrap_or(Value::Null),
    )
}

fn items_path(query: &[(&str, &str)]) -> String {
    let mut url = form_urlencoded::Serializer::new(String::new());
    for (k, v) in query {
        url.append_pair(k, v);
    }
    format!("/collections/points/items?{}", url.finish())
}

/// The names a filtered listing answers, following every `next` link.
async fn names(host: &Host, query: &[(&str, &str)]) -> BTreeSet<String> {
    let mut url = host.url(&items_path(query));
    let mut out = BTreeSet::new();
    loop {
        let response = client().get(&url).send().await.unwrap();
        let status = response.status();
        let page: Value = response.json().await.unwrap();
        assert_eq!(status, StatusCode::OK, "{query:?}: {page}");
        for feature in page["features"].as_array().unwrap() {
            let name = feature["properties"]["name"].as_str().unwrap().to_owned();
            assert!(out.insert(name), "{query:?}: a feature twice across pages");
        }
        match page["links"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["rel"] == "next")
        {
            Some(next) => url = next["href"].as_str().unwrap().to_owned(),
            None => return out,
        }
    }
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| n.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn conformance_collection_and_queryables_say_what_is_offered() {
    let (_db, host) = start_with_cities().await;
    let (_, _, conformance) = get(&host, "/conformance").await;
    let classes = conformance["conformsTo"].as_array().unwrap();
    for class in [
        "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
        "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
        "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
        "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
        "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
        "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
        "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
        "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
        "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
        "http://www.opengis.net/spec/cql2/1.0/conf/case-insensitive-comparison",
        "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
        "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
        "http://www.opengis.net/spec/cql2/1.0/conf/temporal-functions",
    ] {
        assert!(classes.contains(&json!(class)), "{class} missing");
    }

    let (_, _, collection) = get(&host, "/collections/points").await;
    let crs = collection["crs"].as_array().unwrap();
    for uri in [
        "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
        "http://www.opengis.net/def/crs/EPSG/0/4326",
        "http://www.opengis.net/def/crs/EPSG/0/3857",
    ] {
        assert!(crs.contains(&json!(uri)), "{uri} not offered");
    }
    assert_eq!(
        collection["storageCrs"],
        "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
    );
    let queryables_link = collection["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["rel"] == "http://www.opengis.net/def/rel/ogc/1.0/queryables")
        .expect("a queryables link");
    assert_eq!(
        queryables_link["href"],
        host.url("/collections/points/queryables")
    );

    let (status, headers, schema) = get(&host, "/collections/points/queryables").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[CONTENT_TYPE], "application/schema+json");
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    assert_eq!(schema["$id"], host.url("/collections/points/queryables"));
    assert_eq!(schema["properties"]["name"]["type"], "string");
    assert_eq!(schema["properties"]["created_at"]["format"], "date-time");
    assert_eq!(
        schema["properties"]["geometry"]["x-ogc-role"],
        "primary-geometry"
    );
    assert_eq!(
        get(&host, "/collections/nope/queryables").await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn cql2_filters_select_the_features_they_describe() {
    let (_db, host) = start_with_cities().await;
    let france = "POLYGON((-5 41, 10 41, 10 51.5, -5 51.5, -5 41))";
    let cases: Vec<(String, Vec<&str>)> = vec![
        ("name = 'Paris'".into(), vec!["Paris"]),
        (
            "name <> 'Paris' AND name < 'M'".into(),
            vec!["Berlin", "Lyon"],
        ),
        (
            "NOT (name >= 'M') OR name = 'Suva'".into(),
            vec!["Berlin", "Lyon", "Suva"],
        ),
        ("name LIKE 'Mar%'".into(), vec!["Marseille"]),
        ("name NOT LIKE '%r%'".into(), vec!["Lyon", "Suva"]),
        (
            "name IN ('Paris', 'Berlin', 'Rome')".into(),
            vec!["Paris", "Berlin"],
        ),
        ("CASEI(name) = casei('PARIS')".into(), vec!["Paris"]),
        ("name = 'O''Brien''s'".into(), vec!["O'Brien's"]),
        ("name IS NULL".into(), vec![]),
        (
            "name = name AND id > 0".into(),
            CITIES.iter().map(|c| c.0).collect(),
        ),
        (
            format!("S_INTERSECTS(geometry, {france})"),
            vec!["Paris", "Lyon", "Marseille"],
        ),
        (
            format!("S_WITHIN(geometry, {france})"),
            vec!["Paris", "Lyon", "Marseille"],
        ),
        (
            format!("S_DISJOINT(geometry, {france}) AND name <> 'Suva'"),
            vec!["Berlin", "O'Brien's"],
        ),
        (
            "S_INTERSECTS(geometry, BBOX(4, 43, 6, 46))".into(),
            vec!["Lyon", "Marseille"],
        ),
        // Across the antimeridian, around Fiji.
        (
            "S_INTERSECTS(geometry, BBOX(170, -20, -170, -10))".into(),
            vec!["Suva"],
        ),
        (
            "S_EQUALS(geometry, POINT(13.405 52.52))".into(),
            vec!["Berlin"],
        ),
        (
            "S_CONTAINS(POLYGON((12 52, 14 52, 14 53, 12 53, 12 52)), geometry)".into(),
            vec!["Berlin"],
        ),
        (
            "T_BEFORE(created_at, TIMESTAMP('2021-01-01T00:00:00Z'))".into(),
            vec!["Paris", "Lyon"],
        ),
        (
            "T_DURING(created_at, INTERVAL('2020-01-01', '2020-12-31'))".into(),
            vec!["Paris", "Lyon"],
        ),
        (
            "T_AFTER(created_at, DATE('2021-01-01'))".into(),
            vec!["Marseille", "Berlin", "Suva", "O'Brien's"],
        ),
        (
            "T_INTERSECTS(created_at, INTERVAL('..', '2020-01-15T12:00:00Z'))".into(),
            vec!["Paris", "Lyon"],
        ),
    ];
    for (filter, expected) in cases {
        let got = names(&host, &[("filter", &filter), ("limit", "1")]).await;
        assert_eq!(got, set(&expected), "{filter}");
    }

    // The same in CQL2 JSON.
    let json_filter = json!({"op": "and", "args": [
        {"op": "s_intersects", "args": [{"property": "geometry"},
            {"type": "Polygon", "coordinates": [[[-5, 41], [10, 41], [10, 51.5], [-5, 51.5], [-5, 41]]]}]},
        {"op": "like", "args": [{"property": "name"}, "%a%"]},
    ]});
    let got = names(
        &host,
        &[
            ("filter", &json_filter.to_string()),
            ("filter-lang", "cql2-json"),
        ],
    )
    .await;
    assert_eq!(got, set(&["Paris", "Marseille"]));

    // Queryables as parameters, filter-crs, and bbox: all ANDed.
    assert_eq!(names(&host, &[("name", "Lyon")]).await, set(&["Lyon"]));
    assert_eq!(
        names(
            &host,
            &[("filter", "name LIKE '%e%'"), ("bbox", "-10,40,10,55")]
        )
        .await,
        set(&["Marseille", "O'Brien's"])
    );
    assert_eq!(
        names(
            &host,
            &[
                ("filter", "S_INTERSECTS(geometry, BBOX(48, 2, 49, 3))"),
                ("filter-crs", "http://www.opengis.net/def/crs/EPSG/0/4326"),
            ]
        )
        .await,
        set(&["Paris"])
    );

    // numberMatched counts the filtered set.
    let (_, _, page) = get(&host, &items_path(&[("filter", "name < 'M'")])).await;
    assert_eq!(page["numberMatched"], 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_and_hostile_filters_are_refused_and_change_nothing() {
    let (db, host) = start_with_cities().await;
    for filter in [
        "secret = 1",
        "pg_sleep(5) = 1",
        "name = pg_sleep(5)",
        "name = (SELECT name FROM points LIMIT 1)",
        "name = 'a'; DELETE FROM points",
        "name = 'a' -- comment",
        "id = '1'::int",
        "name = 3",
        "S_INTERSECTS(geometry, POINT(200 100))",
        "name ==",
    ] {
        let (status, headers, problem) = get(&host, &items_path(&[("filter", filter)])).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{filter}: {problem}");
        assert_eq!(
            headers[CONTENT_TYPE], "application/problem+json",
            "{filter}"
        );
        assert_eq!(problem["parameter"], "filter", "{filter}: {problem}");
    }
    // Blank, as a form leaves it (schema-valid in /api): no filter at all.
    assert_eq!(names(&host, &[("filter", " ")]).await.len(), CITIES.len());
    for (query, parameter) in [
        (
            vec![("filter", "name = 'a'"), ("filter-lang", "ecql")],
            "filter-lang",
        ),
        (
            vec![("filter", "name = 'a'"), ("filter-crs", "EPSG:2154")],
            "filter-crs",
        ),
        (vec![("id", "one")], "id"),
        (vec![("id", "0.5")], "id"),
        (vec![("created_at", "yesterday")], "created_at"),
    ] {
        let (status, _, problem) = get(&host, &items_path(&query)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query:?}");
        assert_eq!(problem["parameter"], parameter, "{query:?}");
    }
    // An integer past int8 is still an integer: no match, no error.
    assert!(
        names(&host, &[("id", "99999999999999999999")])
            .await
            .is_empty()
    );
    // Quotes and comments inside a literal are a value, not SQL.
    for filter in [
        "name = 'x'' OR ''1''=''1'",
        "name = '--'",
        "name LIKE '%''; DROP TABLE points; --'",
    ] {
        assert!(
            names(&host, &[("filter", filter)]).await.is_empty(),
            "{filter}"
        );
    }
    assert_eq!(db.count_points().await, CITIES.len() as i64);
}

#[tokio::test(flavor = "multi_thread")]
async fn coordinates_in_the_crs_asked_for() {
    let (_db, host) = start_with_cities().await;
    let paris = [("name", "Paris")];
    let (status, headers, page) = get(&host, &items_path(&paris)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers["content-crs"],
        "<http://www.opengis.net/def/crs/OGC/1.3/CRS84>"
    );
    let id = page["features"][0]["id"].as_i64().unwrap();

    let mercator = [
        ("name", "Paris"),
        ("crs", "http://www.opengis.net/def/crs/EPSG/0/3857"),
    ];
    let (_, headers, page) = get(&host, &items_path(&mercator)).await;
    assert_eq!(
        headers["content-crs"],
        "<http://www.opengis.net/def/crs/EPSG/0/3857>"
    );
    let xy = &page["features"][0]["geometry"]["coordinates"];
    assert!((xy[0].as_f64().unwrap() - 261_845.7).abs() < 0.5, "{xy}");
    assert!((xy[1].as_f64().unwrap() - 6_250_566.7).abs() < 0.5, "{xy}");
    // next links keep the CRS.
    let (_, _, page) = get(&host, &items_path(&[("crs", "EPSG:3857"), ("limit", "1")])).await;
    let next = page["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["rel"] == "next")
        .unwrap()["href"]
        .as_str()
        .unwrap();
    assert!(next.contains("crs=EPSG%3A3857"), "{next}");

    // EPSG:4326 is latitude first, for one feature as for a page.
    let (_, headers, feature) = get(
        &host,
        &format!("/collections/points/items/{id}?crs=http://www.opengis.net/def/crs/EPSG/0/4326"),
    )
    .await;
    assert_eq!(
        headers["content-crs"],
        "<http://www.opengis.net/def/crs/EPSG/0/4326>"
    );
    assert_eq!(
        feature["geometry"]["coordinates"],
        json!([48.856614, 2.3522])
    );

    // bbox in Web Mercator and in EPSG:4326's axis order.
    let around_paris = "250000,6240000,270000,6260000";
    assert_eq!(
        names(
            &host,
            &[
                ("bbox", around_paris),
                ("bbox-crs", "http://www.opengis.net/def/crs/EPSG/0/3857")
            ]
        )
        .await,
        set(&["Paris"])
    );
    assert_eq!(
        names(
            &host,
            &[
                ("bbox", "45,4,46,5"),
                ("bbox-crs", "http://www.opengis.net/def/crs/EPSG/0/4326")
            ]
        )
        .await,
        set(&["Lyon"])
    );

    for (query, parameter) in [
        (
            vec![("crs", "http://www.opengis.net/def/crs/EPSG/0/2154")],
            "crs",
        ),
        (
            vec![("bbox", "0,0,1,1"), ("bbox-crs", "EPSG:27700")],
            "bbox-crs",
        ),
        (
            vec![("bbox", "0,0,1e9,1"), ("bbox-crs", "EPSG:3857")],
            "bbox",
        ),
    ] {
        let (status, _, problem) = get(&host, &items_path(&query)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query:?}");
        assert_eq!(problem["parameter"], parameter, "{query:?}");
    }
}

/// Runs ogrinfo; its stdout, and its debug output (the URLs it fetched).
fn gdal(args: &[&str]) -> (String, String) {
    let output = std::process::Command::new("ogrinfo")
        .args(args)
        .env("GDAL_HTTP_TIMEOUT", "30")
        .env("CPL_DEBUG", "ON")
        .env_remove("http_proxy")
        .env_remove("HTTP_PROXY")
        .output()
        .unwrap_or_else(|e| panic!("ogrinfo not runnable (install gdal-bin): {e}"));
    assert!(
        output.status.success(),
        "ogrinfo {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn gdal_filters_on_the_server() {
    let (_db, host) = start_with_cities().await;
    let source = format!("OAPIF:{}", host.base);
    let (info, debug) = tokio::task::spawn_blocking(move || {
        gdal(&["-ro", "-al", &source, "-where", "name = 'Paris'"])
    })
    .await
    .unwrap();
    assert!(info.contains("Feature Count: 1"), "{info}");
    assert!(info.contains("name (String) = Paris"), "{info}");
    assert!(!info.contains("= Lyon"), "{info}");
    // GDAL read the layer's schema from a first page, then sent the filter
    // to the server (GDAL 3.6 as a queryable parameter, from /api; newer
    // ones as CQL2 text) rather than filtering a full download.
    let fetched: Vec<&str> = debug
        .lines()
        .filter(|l| l.contains("Fetch(") && l.contains("/collections/points/items"))
        .collect();
    let filtered = |l: &&str| l.contains("filter=") || l.contains("name=Paris");
    assert!(
        fetched.last().is_some_and(filtered)
            && fetched.iter().filter(|l| !filtered(l)).count() <= 1,
        "GDAL did not filter on the server:\n{debug}"
    );
}
