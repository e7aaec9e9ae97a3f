//! Bearer tokens as the host checks them, through the running host with
//! keys and a JWKS made by the test: every kind of bad token refused with
//! RFC 6750's status and challenge before the handler runs, keys rotated
//! and the issuer down without a restart, the admin API behind a scope.

mod support;

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use geofn_test_issuer::{JwksServer, SigningKey, claims, jwks, now};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::auth::{AUDIENCE, ISSUER, Issuer, PROBE_BEHIND_TOKENS, good, send, serve};
use support::{Host, TestDb, get_json, shipped_plus, test_handler};

/// How many instances the host made for `handler` so far.
async fn instances(host: &Host, handler: &str) -> f64 {
    let samples = support::metrics::scrape(host).await;
    support::metrics::value(
        &samples,
        "geofn_handler_instantiate_seconds_count",
        &[("handler", handler)],
    )
}

fn with_payload(token: &str, payload: &Value) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    let payload = URL_SAFE_NO_PAD.encode(payload.to_string());
    format!("{}.{payload}.{}", parts[0], parts[2])
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_tokens_are_refused_before_the_handler_runs_and_store_nothing() {
    let db = TestDb::start();
    let issuer = Issuer::new();
    let server = JwksServer::start(issuer.jwks()).await;
    let dir = shipped_plus(
        PROBE_BEHIND_TOKENS,
        &[("probe.wasm", test_handler("probe-v1"))],
    );
    let host = serve(&db, dir.path(), &["--auth-jwks-url", &server.url]).await;

    // /api says which routes need a token, and with which scopes.
    let api: Value = get_json(host.url("/api")).await;
    let post = &api["paths"]["/probe/{action}"]["post"];
    assert_eq!(
        post["security"],
        json!([{ "bearerAuth": ["probe:write"] }]),
        "{post}"
    );
    assert!(post["responses"]["401"].is_object(), "{post}");
    assert!(
        api["paths"]["/probe/{action}"]["get"]
            .get("security")
            .is_none()
    );
    assert_eq!(
        api["components"]["securitySchemes"]["bearerAuth"]["scheme"],
        "bearer"
    );

    let now = now();
    let mut expired = good("alice", "probe:write");
    expired["exp"] = json!(now - 3600);
    let mut early = good("alice", "probe:write");
    early["nbf"] = json!(now + 3600);
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(good("alice", "probe:write").to_string())
    );
    let mut hs_header = Header::new(Algorithm::HS256);
    hs_header.kid = Some("rsa-1".into());
    let hmac_with_public_key = jsonwebtoken::encode(
        &hs_header,
        &good("alice", "probe:write"),
        &EncodingKey::from_secret(&issuer.rsa.public_pem).unwrap(),
    )
    .unwrap();
    let stranger = SigningKey::generate(Algorithm::RS256, "nope");
    let impostor = SigningKey::generate(Algorithm::RS256, "rsa-1");
    let valid = issuer.rsa.sign(&good("alice", "probe:write"));
    let mut raised = good("alice", "probe:write");
    raised["sub"] = json!("admin");
    let cases: Vec<(&str, Option<String>, StatusCode, &str)> = vec![
        (
            "no token",
            None,
            StatusCode::UNAUTHORIZED,
            "Bearer realm=\"geofn\"",
        ),
        (
            "expired",
            Some(issuer.rsa.sign(&expired)),
            StatusCode::UNAUTHORIZED,
            "invalid_token",
        ),
        (
            "not yet valid",
            Some(issuer.ec.sign(&early)),
            StatusCode::UNAUTHORIZED,
            "invalid_token",
        ),
        (
            "wrong issuer",
            Some(issuer.ed.sign(&claims(
                "alice",
                "probe:write",
                "https://evil.test",
                AUDIENCE,
                3600,
            ))),
            StatusCode::UNAUTHORIZED,
            "invalid_token",
        ),
        (
            "wrong audience",
            Some(
                issuer
                    .ps
                    .sign(&claims("alice", "probe:write", ISSUER, "elsewhere", 3600)),
            ),
            StatusCode::UNAUTHORIZED,
            "invalid_token",
        ),
        (
            "alg none",
            Some(none),
            StatusCode::UNAUTHORIZED,
            "invalid_token",
        ),
        (
            "HS256 keyed with the public key",
            Some(hmac_with_public_key),
            StatusCode::UNAUTHORIZED,
            "invalid_token",
        ),
        (
            "unknown kid",
            Some(stranger.sign(&good("alice", "probe:write"))),
            StatusCode::UNAUTHORIZED,
            "invalid_token",
        ),
        (
            "another key under a known kid",
            Some(impostor.sign(&good("alice", "probe:write"))),
            StatusCode::UNAUTHORIZED,
            "invalid_token",
        ),
        (
            "tampered payload",
            Some(with_payload(&valid, &raised)),
            StatusCode::UNAUTHORIZED,
            "invalid_token",
        ),
        (
            "100 kB token",
            Some("a".repeat(100_000)),
            StatusCode::UNAUTHORIZED,
            "invalid_token",
        ),
        (
            "missing scope",
            Some(issuer.rsa.sign(&good("alice", "probe:read"))),
            StatusCode::FORBIDDEN,
            "error=\"insufficient_scope\", scope=\"probe:write\"",
        ),
    ];
    let before = instances(&host, "probe").await;
    for (what, token, status, challenge) in &cases {
        let response = send(
            &host,
            "POST",
            "/probe/tx?do=commit&note=refused",
            token.as_deref(),
        )
        .await;
        assert_eq!(response.status(), *status, "{what}");
        let header = response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(header.contains(challenge), "{what}: {header}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json",
            "{what}"
        );
        let body = response.text().await.unwrap();
        assert!(
            !body.contains("BEGIN") && !body.contains("n\":"),
            "{what}: no key material: {body}"
        );
    }
    // A token that is sent is checked on anonymous routes too.
    let refused = send(
        &host,
        "GET",
        "/probe/echo",
        Some(&issuer.rsa.sign(&expired)),
    )
    .await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        instances(&host, "probe").await,
        before,
        "no instance for a refused request"
    );

    // The one good token stores its note; none of the refused ones did.
    let stored = send(&host, "POST", "/probe/tx?do=commit&note=kept", Some(&valid)).await;
    assert_eq!(stored.status(), StatusCode::OK);
    let notes: Value = send(&host, "GET", "/probe/notes", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        notes["notes"],
        json!([{"text": "kept"}, {"text": "kept-2"}]),
        "{notes}"
    );

    let samples = support::metrics::scrape(&host).await;
    let refusals = |reason| {
        support::metrics::value(
            &samples,
            "geofn_auth_refusals_total",
            &[("handler", "probe"), ("reason", reason)],
        )
    };
    assert_eq!(refusals("missing"), 1.0);
    assert_eq!(refusals("expired"), 2.0);
    assert_eq!(refusals("insufficient-scope"), 1.0);
    assert_eq!(refusals("unknown-key"), 1.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_rotate_and_the_issuer_may_go_down_without_a_restart() {
    let db = TestDb::start();
    let issuer = Issuer::new();
    let server = JwksServer::start(jwks(&[&issuer.rsa])).await;
    let dir = shipped_plus(
        PROBE_BEHIND_TOKENS,
        &[("probe.wasm", test_handler("probe-v1"))],
    );
    let host = serve(&db, dir.path(), &["--auth-jwks-url", &server.url]).await;
    let whoami = |token: String| {
        let host = &host;
        async move {
            send(host, "GET", "/probe/whoami", Some(&token))
                .await
                .status()
        }
    };
    assert_eq!(
        whoami(issuer.rsa.sign(&good("a", ""))).await,
        StatusCode::OK
    );

    // The issuer publishes a new key and signs with it: the host fetches
    // the keys again when it meets the new kid.
    let rotated = SigningKey::generate(Algorithm::RS256, "rsa-2");
    server.publish(jwks(&[&issuer.rsa, &rotated]));
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(whoami(rotated.sign(&good("b", ""))).await, StatusCode::OK);

    // The issuer goes down: the keys held keep verifying.
    server.stop();
    let mut fresh = good("c", "");
    fresh["jti"] = json!("never-seen");
    assert_eq!(whoami(issuer.rsa.sign(&fresh)).await, StatusCode::OK);
    assert_eq!(whoami(rotated.sign(&fresh)).await, StatusCode::OK);
    let stranger = SigningKey::generate(Algorithm::ES256, "ec-9");
    assert_eq!(
        whoami(stranger.sign(&fresh)).await,
        StatusCode::UNAUTHORIZED
    );

    // From a file: re-read when it changes, a key withdrawn with it.
    let file_dir = tempfile::tempdir().unwrap();
    let file = file_dir.path().join("jwks.json");
    std::fs::write(&file, jwks(&[&issuer.ed])).unwrap();
    let from_file = serve(
        &db,
        dir.path(),
        &["--auth-jwks-file", file.to_str().unwrap()],
    )
    .await;
    let status = |token: String| {
        let host = &from_file;
        async move {
            send(host, "GET", "/probe/whoami", Some(&token))
                .await
                .status()
        }
    };
    let ed_token = issuer.ed.sign(&good("d", ""));
    assert_eq!(status(ed_token.clone()).await, StatusCode::OK);
    assert_eq!(
        status(issuer.ec.sign(&good("e", ""))).await,
        StatusCode::UNAUTHORIZED
    );
    std::fs::write(&file, jwks(&[&issuer.ec])).unwrap();
    let started = Instant::now();
    while status(issuer.ec.sign(&good("e", ""))).await != StatusCode::OK {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the new file was never read"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The withdrawn key's token, verified before, is refused now.
    assert_eq!(status(ed_token).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_admin_api_takes_a_token_with_the_admin_scope() {
    let db = TestDb::start();
    let issuer = Issuer::new();
    let server = JwksServer::start(issuer.jwks()).await;
    let dir = shipped_plus("", &[]);
    let host = serve(
        &db,
        dir.path(),
        &[
            "--auth-jwks-url",
            &server.url,
            "--auth-admin-scope",
            "geofn:admin",
        ],
    )
    .await;
    let admin = issuer.rsa.sign(&good("ops", "geofn:admin"));
    let user = issuer.rsa.sign(&good("alice", "maps"));
    assert_eq!(
        send(&host, "GET", "/admin/handlers", Some(&admin))
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        send(&host, "GET", "/admin/handlers", Some(&user))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        send(&host, "GET", "/admin/handlers", None).await.status(),
        StatusCode::UNAUTHORIZED
    );
}
