//! One OpenAPI document at `/api` for the whole service: the host's routes
//! and every loaded handler's, documented where the handler's component
//! says more (its embedded fragment), generated from the route table where
//! it does not, valid OpenAPI 3.0, following swaps at once; and what it
//! says is what the server accepts (Schemathesis, a real client).

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{
    Host, PROBE_ENTRY, TestDb, client, publish, shipped_handlers, shipped_plus, target_dir,
    test_handler,
};

async fn api(host: &Host) -> Value {
    let response = client().get(host.url("/api")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let media = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(media, "application/vnd.oai.openapi+json;version=3.0");
    response.json().await.unwrap()
}

/// Every operation in the document, as (method, path, first tag).
fn operations(document: &Value) -> Vec<(String, String, String)> {
    let mut found = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            if method == "parameters" {
                continue;
            }
            let tag = operation["tags"][0].as_str().unwrap_or_default().to_owned();
            found.push((method.clone(), path.clone(), tag));
        }
    }
    found.sort();
    found
}

/// The referenced component, prefixed by its handler's name.
fn component<'a>(document: &'a Value, reference: &Value) -> &'a Value {
    let name = reference["$ref"].as_str().unwrap();
    let mut node = document;
    for part in name.trim_start_matches("#/").split('/') {
        node = &node[part];
    }
    assert!(!node.is_null(), "{name} does not resolve");
    node
}

/// openapi-spec-validator (PyPI, `make test-deps`) on the document.
fn assert_valid_openapi(document: &Value) {
    let mut child = std::process::Command::new("python3")
        .args([
            "-c",
            "import json, sys\n\
             from openapi_spec_validator import validate\n\
             validate(json.load(sys.stdin))",
        ])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(document.to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "not valid OpenAPI 3.0 (make test-deps installs the validator):\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn one_document_names_every_route_of_every_handler_and_follows_swaps() {
    let db = TestDb::start();
    // Everything shipped, the probe (no fragment) and a Python handler
    // whose fragment build.py embedded.
    let dir = shipped_plus(
        &format!("{PROBE_ENTRY}\n[handlers.pyfetch]\ncomponent = \"fetch.wasm\"\n"),
        &[
            ("probe.wasm", test_handler("probe-v1")),
            (
                "fetch.wasm",
                target_dir().join("python-handlers/fetch.wasm"),
            ),
        ],
    );
    let host = Host::serve(&db, dir.path(), &[]).await;
    let document = api(&host).await;
    assert_eq!(document["openapi"], "3.0.3");
    assert_eq!(document["servers"][0]["url"], host.base);

    let expected: Vec<(String, String, String)> = {
        let mut list: Vec<_> = [
            ("get", "/livez", "host"),
            ("get", "/status", "host"),
            ("get", "/metrics", "host"),
            ("get", "/api", "host"),
            ("post", "/point", "points"),
            ("get", "/points", "points"),
            ("get", "/points/{id}", "points"),
            ("delete", "/points/{id}", "points"),
            ("get", "/", "features"),
            ("get", "/conformance", "features"),
            ("get", "/collections", "features"),
            ("get", "/collections/{collectionId}", "features"),
            ("get", "/collections/{collectionId}/queryables", "features"),
            ("get", "/collections/{collectionId}/items", "features"),
            (
                "get",
                "/collections/{collectionId}/items/{featureId}",
                "features",
            ),
            ("get", "/collections/{collectionId}/tiles", "tiles"),
            (
                "get",
                "/collections/{collectionId}/tiles/{matrix_set}",
                "tiles",
            ),
            (
                "get",
                "/collections/{collectionId}/tiles/{matrix_set}/tilejson.json",
                "tiles",
            ),
            (
                "get",
                "/collections/{collectionId}/tiles/{matrix_set}/{z}/{y}/{x}",
                "tiles",
            ),
            ("post", "/regions", "regions"),
            ("get", "/regions", "regions"),
            ("get", "/regions/{id}", "regions"),
            ("get", "/regions/{id}/points", "regions"),
            ("put", "/feeds/{name}", "feeds"),
            ("get", "/feeds/{name}", "feeds"),
            ("post", "/feeds/{name}/pull", "feeds"),
            ("get", "/feeds/{name}/items", "feeds"),
            ("get", "/probe/{action}", "probe"),
            ("get", "/pyfetch", "pyfetch"),
        ]
        .iter()
        .map(|(m, p, t)| (m.to_string(), p.to_string(), t.to_string()))
        .collect();
        list.sort();
        list
    };
    assert_eq!(
        operations(&document),
        expected,
        "one operation per route, nothing else"
    );
    assert_valid_openapi(&document);

    // The points API, documented from the bounds the handler checks.
    let create = &document["paths"]["/point"]["post"];
    let body = component(
        &document,
        &create["requestBody"]["content"]["application/json"]["schema"],
    );
    assert_eq!(
        body["required"],
        serde_json::json!(["longitude", "latitude", "name"])
    );
    assert_eq!(body["properties"]["name"]["maxLength"], 100);
    assert_eq!(body["properties"]["latitude"]["maximum"], 90);
    let list = &document["paths"]["/points"]["get"];
    let parameter = |name: &str| {
        list["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("/points has no {name}"))
            .clone()
    };
    assert_eq!(parameter("limit")["schema"]["maximum"], 10_000);
    for name in ["bbox", "near", "radius", "datetime", "cursor", "f"] {
        parameter(name);
    }
    // OGC items: the page size GDAL reads, and the filter parameters.
    let items = &document["paths"]["/collections/{collectionId}/items"]["get"];
    let names: Vec<&str> = items["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for name in [
        "collectionId",
        "bbox",
        "bbox-crs",
        "crs",
        "filter",
        "filter-lang",
        "limit",
        "name",
    ] {
        assert!(names.contains(&name), "{name} not in {names:?}");
    }
    // Every problem answer points at the host's Problem.
    assert_eq!(
        items["responses"]["default"]["$ref"],
        "#/components/responses/Problem"
    );
    // The probe carries no fragment: its route still has its parameter.
    let probe = &document["paths"]["/probe/{action}"]["get"];
    assert_eq!(probe["parameters"][0]["name"], "action");
    assert_eq!(probe["parameters"][0]["in"], "path");
    assert_eq!(probe["x-geofn-handler"], "probe");

    // The Python handler's own words, its schema under its own name.
    let fetch = &document["paths"]["/pyfetch"]["get"];
    assert_eq!(fetch["parameters"][0]["name"], "url");
    let fetched = &fetch["responses"]["200"]["content"]["application/json"]["schema"];
    assert_eq!(fetched["$ref"], "#/components/schemas/pyfetch.Fetched");
    component(&document, fetched);

    // Behind a proxy, the servers entry is the one clients reached.
    let proxied: Value = client()
        .get(host.url("/api"))
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-host", "maps.example.org")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(proxied["servers"][0]["url"], "https://maps.example.org");

    // A swap that drops the probe drops its routes from the document.
    let shipped = std::fs::read(shipped_handlers().join("geofn.toml")).unwrap();
    publish(dir.path(), "geofn.toml", &shipped);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let document = api(&host).await;
        if document["paths"].get("/probe/{action}").is_none() {
            assert!(document["paths"].get("/points").is_some());
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the probe's route is still documented"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Schemathesis generates requests from `/api` and checks every answer:
/// a request the document calls valid is never refused (no 400), no 5xx,
/// and each answer's status, media type and body are ones the document
/// lists. Left out: the rules OpenAPI 3.0 cannot say
/// (`clients/schemathesis_hooks.py`), and three writes whose acceptance
/// depends on more than the request (a region's geometry validity is
/// PostGIS's ST_IsValid; a feed's URL must be on the deployment's
/// allow-list; a pull calls that URL).
#[tokio::test(flavor = "multi_thread")]
async fn what_the_document_says_valid_the_server_accepts() {
    let db = TestDb::start();
    let host = Host::serve(&db, &shipped_handlers(), &[]).await;
    db.insert_points(&[
        ("Paris", 2.3522, 48.856614),
        ("Lyon", 4.8357, 45.764),
        ("Lima", -77.0428, -12.0464),
    ])
    .await;
    let clients = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients");
    let reports = tempfile::tempdir().unwrap();
    let output = tokio::process::Command::new("python3")
        .args([
            "-m",
            "schemathesis.cli",
            "run",
            &host.url("/api"),
            "--checks",
            "not_a_server_error,positive_data_acceptance,status_code_conformance,\
             content_type_conformance,response_schema_conformance",
            "--phases",
            "examples,coverage,fuzzing",
            "--max-examples",
            "40",
            "--seed",
            "20261204",
            // One worker: CPython 3.11's ast.parse is not safe in two
            // threads, and Hypothesis calls it to describe strategies
            // ("AST constructor recursion depth mismatch" under load).
            "--workers",
            "1",
            "--request-timeout",
            "10",
            "--exclude-operation-id",
            "createRegion",
            "--exclude-operation-id",
            "registerFeed",
            "--exclude-operation-id",
            "pullFeed",
            "--generation-database",
            "none",
            "--no-color",
        ])
        .env("SCHEMATHESIS_HOOKS", "schemathesis_hooks")
        .env("PYTHONPATH", &clients)
        .current_dir(reports.path())
        .env_remove("http_proxy")
        .env_remove("HTTP_PROXY")
        .output()
        .await
        .expect("python3 not runnable");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "Schemathesis found requests the document and the server disagree on:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // It did test: every operation selected (all but the three left out).
    let count = |label: &str| {
        stdout
            .lines()
            .find_map(|line| line.trim().strip_prefix(label))
            .and_then(|rest| rest.trim().split('/').next()?.parse::<usize>().ok())
            .unwrap_or_else(|| panic!("no {label:?} in {stdout}"))
    };
    assert!(count("Selected:") >= 20, "{stdout}");
    assert_eq!(count("Tested:"), count("Selected:"), "{stdout}");
}
