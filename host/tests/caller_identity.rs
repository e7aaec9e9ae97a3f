//! The verified caller, as a handler and its SQL see it: handed to the
//! handler and to its statements' claims, and to no later request on the
//! same connection or instance; a private region is its owner's alone
//! (row-level security on the claims).

mod support;

use geofn_test_issuer::JwksServer;
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::auth::{ISSUER, Issuer, PROBE_BEHIND_TOKENS, good, send, serve};
use support::{Host, TestDb, client, get_json, shipped_plus, test_handler};

#[tokio::test(flavor = "multi_thread")]
async fn the_caller_reaches_the_handler_and_its_sql_and_no_later_request() {
    let db = TestDb::start();
    let issuer = Issuer::new();
    let server = JwksServer::start(issuer.jwks()).await;
    let dir = shipped_plus(
        PROBE_BEHIND_TOKENS,
        &[("probe.wasm", test_handler("probe-v1"))],
    );
    let host = serve(&db, dir.path(), &["--auth-jwks-url", &server.url]).await;
    let alice = issuer.ed.sign(&good("alice", "probe:read maps"));
    let counter = |host: &Host| {
        let url = host.url("/again/counter");
        async move {
            let served: Value = get_json(url).await;
            served["served"].as_u64().unwrap()
        }
    };
    let first = counter(&host).await;

    for prefix in ["/probe", "/again"] {
        let seen: Value = send(&host, "GET", &format!("{prefix}/whoami"), Some(&alice))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(seen["identity"]["subject"], "alice", "{seen}");
        assert_eq!(seen["identity"]["scopes"], json!(["probe:read", "maps"]));
        assert_eq!(seen["identity"]["claims"]["iss"], ISSUER);
        assert_eq!(
            seen["authorization_header"],
            Value::Null,
            "the token never reaches the guest"
        );
        let sql: Value = serde_json::from_str(seen["sql_claims"].as_str().unwrap()).unwrap();
        assert_eq!(sql["sub"], "alice");

        // The next request, anonymous, on the same connection (and, under
        // /again, the same instance): nothing of Alice's is left.
        let next: Value = send(&host, "GET", &format!("{prefix}/whoami"), None)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(next["identity"], Value::Null, "{prefix}: {next}");
        assert_eq!(next["sql_claims"], "", "{prefix}: {next}");
    }
    // The instance under /again kept its count through both: it was reused.
    assert_eq!(counter(&host).await, first + 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_private_region_is_its_owners_alone() {
    let db = TestDb::start();
    let issuer = Issuer::new();
    let server = JwksServer::start(issuer.jwks()).await;
    let dir = shipped_plus("", &[]);
    let host = serve(&db, dir.path(), &["--auth-jwks-url", &server.url]).await;
    let alice = issuer.rsa.sign(&good("alice", ""));
    let bob = issuer.ec.sign(&good("bob", ""));
    let region = |private: bool| {
        json!({
            "type": "Feature",
            "geometry": {"type": "Polygon", "coordinates": [[[0,0],[10,0],[10,10],[0,10],[0,0]]]},
            "properties": {"name": "garden", "private": private},
        })
    };
    let post = |token: Option<String>, body: Value| {
        let host = &host;
        async move {
            let mut request = client().post(host.url("/regions")).json(&body);
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            request.send().await.unwrap()
        }
    };
    let created = post(Some(alice.clone()), region(true)).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    assert_eq!(created["properties"]["owner"], "alice", "{created}");
    let id = created["id"].as_i64().unwrap();

    let get = |token: Option<String>, path: String| {
        let host = &host;
        async move { send(host, "GET", &path, token.as_deref()).await }
    };
    for (who, token) in [("bob", Some(bob.clone())), ("anonymous", None)] {
        let by_id = get(token.clone(), format!("/regions/{id}")).await;
        assert_eq!(by_id.status(), StatusCode::NOT_FOUND, "{who}");
        let listed: Value = get(token.clone(), "/regions?contains=5,5".into())
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(listed["features"], json!([]), "{who}: {listed}");
    }
    let own: Value = get(Some(alice.clone()), format!("/regions/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(own["properties"]["owner"], "alice");
    let listed: Value = get(Some(alice), "/regions?contains=5,5".into())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["features"].as_array().unwrap().len(), 1);

    // Anonymous callers may post public regions, not private ones.
    assert_eq!(
        post(None, region(true)).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let public = post(None, region(false)).await;
    assert_eq!(public.status(), StatusCode::CREATED);
    let public: Value = public.json().await.unwrap();
    assert_eq!(public["properties"].get("owner"), None);
    let seen: Value = get(Some(bob), "/regions?contains=5,5".into())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        seen["features"].as_array().unwrap().len(),
        1,
        "Bob sees the public one"
    );
}
