//! OWSLib, the Python OGC client library, reads the points as its OGC API –
//! Features client does: conformance, collections, queryables, and items
//! filtered in CQL2 text and JSON, by bbox, and in EPSG:3857.

mod support;

use serde_json::Value;
use support::{Host, TestDb, shipped_handlers};

const CITIES: &[(&str, f64, f64)] = &[
    ("Paris", 2.3522, 48.856614),
    ("Lyon", 4.8357, 45.764),
    ("Lima", -77.0428, -12.0464),
];

#[tokio::test(flavor = "multi_thread")]
async fn owslib_filters_and_projects_on_the_server() {
    let db = TestDb::start();
    let host = Host::serve(&db, &shipped_handlers(), &[]).await;
    db.insert_points(CITIES).await;
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/owslib_client.py");
    let output = tokio::process::Command::new("python3")
        .arg(&script)
        .arg(&host.base)
        .env_remove("http_proxy")
        .env_remove("HTTP_PROXY")
        .output()
        .await
        .expect("python3 not runnable");
    assert!(
        output.status.success(),
        "OWSLib failed (make test-deps installs it):\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let got: Value = serde_json::from_slice(&output.stdout).unwrap();

    let conformance: Vec<&str> = got["conformance"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    for class in [
        "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
        "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
        "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
        "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    ] {
        assert!(
            conformance.contains(&class),
            "{class} not in {conformance:?}"
        );
    }
    assert!(
        got["collections"]
            .as_array()
            .unwrap()
            .contains(&"points".into()),
        "{got}"
    );
    assert!(
        got["queryables"]
            .as_array()
            .unwrap()
            .contains(&"name".into()),
        "{got}"
    );
    assert_eq!(got["filtered"], serde_json::json!(["Paris"]), "{got}");
    assert_eq!(got["in_box"], serde_json::json!(["Paris"]), "{got}");
    assert_eq!(got["as_json"], serde_json::json!(["Lima", "Lyon"]), "{got}");
    assert_eq!(got["item"], "Paris");
    // Paris in Web Mercator: about 261845.7, 6250566.7.
    let xy = got["mercator"].as_array().unwrap();
    let (x, y) = (xy[0].as_f64().unwrap(), xy[1].as_f64().unwrap());
    assert!(
        (x - 261_845.7).abs() < 1.0 && (y - 6_250_566.7).abs() < 1.0,
        "{xy:?}"
    );
}
