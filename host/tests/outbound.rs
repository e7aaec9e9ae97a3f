//! Handlers' outbound HTTP (`wasi:http/outgoing-handler`) against upstream
//! servers on loopback: allowed origins answer; a host off the list, a
//! metadata address and a redirect to a denied host are refused without
//! the upstream ever being contacted; a slow upstream ends at the
//! request's deadline, a huge answer is cut off at the handler's memory;
//! the replica stays healthy; connections are pooled.

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode as AxumStatus, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use reqwest::StatusCode;
use serde_json::Value;
use support::metrics::{scrape, value};
use support::otlp::{KIND_CLIENT, Receiver};
use support::traced::{CALLER_TRACE, traced_host, traceparent};
use support::{Host, PROBE_ENTRY, TestDb, client, handlers_dir, target_dir, test_handler};

/// What an upstream saw: requests by path, connections accepted.
#[derive(Clone, Default)]
struct Seen {
    hits: Arc<Mutex<HashMap<String, usize>>>,
    /// The `traceparent` of the last request, if it had one.
    traceparent: Arc<Mutex<Option<String>>>,
    /// The `authorization` of the last request, if it had one.
    authorization: Arc<Mutex<Option<String>>>,
}

impl Seen {
    fn hits(&self, path: &str) -> usize {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }

    fn total(&self) -> usize {
        self.hits.lock().unwrap().values().sum()
    }
}

struct Upstream {
    port: u16,
    seen: Seen,
}

async fn answer(
    State((seen, other)): State<(Seen, u16)>,
    Path(what): Path<String>,
    request_headers: HeaderMap,
) -> Response {
    *seen.hits.lock().unwrap().entry(what.clone()).or_default() += 1;
    let header = |name| {
        request_headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    *seen.traceparent.lock().unwrap() = header("traceparent");
    *seen.authorization.lock().unwrap() = header("authorization");
    match what.as_str() {
        "features" => (
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"type":"FeatureCollection","features":[]}"#,
        )
            .into_response(),
        "redirect" => (
            AxumStatus::FOUND,
            [(header::LOCATION, format!("http://127.0.0.1:{other}/stolen"))],
        )
            .into_response(),
        "slow" => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            "too late".into_response()
        }
        "huge" => {
            // 256 MiB, chunked: no length to refuse up front.
            let chunk = axum::body::Bytes::from(vec![b'x'; 1 << 20]);
            let stream = futures_util::stream::iter(
                (0..256).map(move |_| Ok::<_, std::io::Error>(chunk.clone())),
            );
            Body::from_stream(stream).into_response()
        }
        "announced" => {
            // 8 GiB announced; a few bytes sent, then nothing.
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_LENGTH, (1u64 << 33).into());
            let start = futures_util::stream::iter([Ok::<_, std::io::Error>(
                axum::body::Bytes::from_static(b"xxxx"),
            )]);
            let body = Body::from_stream(futures_util::StreamExt::chain(
                start,
                futures_util::stream::pending(),
            ));
            (headers, body).into_response()
        }
        _ => AxumStatus::NOT_FOUND.into_response(),
    }
}

/// An upstream on loopback whose `/redirect` points at port `other`.
async fn upstream(other: u16) -> Upstream {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Seen::default();
    let app = Router::new()
        .route("/{what}", get(answer))
        .with_state((seen.clone(), other));
    tokio::spawn(async move { axum::serve(listener, app).await });
    Upstream { port, seen }
}

async fn fetch(host: &Host, url: &str) -> (StatusCode, Value) {
    let response = client()
        .get(host.url("/probe/fetch"))
        .query(&[("url", url)])
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread")]
async fn allowed_calls_answer_and_everything_else_is_refused_before_it_leaves() {
    // `denied` is a server the handler may not call: it must see nothing.
    let denied = upstream(0).await;
    let allowed = upstream(denied.port).await;
    let db = TestDb::start();
    let manifest = format!(
        "{PROBE_ENTRY}[handlers.probe.limits]\ndeadline_ms = 1500\nmemory_mib = 16\n\
         [handlers.probe.outbound]\nallowed_hosts = [\"http://127.0.0.1:{}\"]\n",
        allowed.port
    );
    let dir = handlers_dir(&manifest, &[("probe.wasm", test_handler("probe-v1"))]);
    let host = Host::serve(&db, dir.path(), &[]).await;
    let base = format!("http://127.0.0.1:{}", allowed.port);

    let (status, got) = fetch(&host, &format!("{base}/features")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got["status"], 200, "{got}");
    assert!(got["body"].as_str().unwrap().contains("FeatureCollection"));

    for url in [
        format!("http://127.0.0.1:{}/stolen", denied.port),
        "http://169.254.169.254/latest/meta-data/".to_owned(),
        format!("https://127.0.0.1:{}/features", allowed.port),
        format!("http://localhost:{}/features", allowed.port),
    ] {
        let (_, got) = fetch(&host, &url).await;
        assert_eq!(got["error"], "denied", "{url}: {got}");
    }
    // A redirect comes back as it is; its target was never contacted.
    let (_, got) = fetch(&host, &format!("{base}/redirect")).await;
    assert_eq!(got["status"], 302, "{got}");
    assert_eq!(denied.seen.total(), 0, "the denied server was contacted");

    // A body past the handler's 16 MiB is an error, announced or not.
    for what in ["announced", "huge"] {
        let started = Instant::now();
        let (status, got) = fetch(&host, &format!("{base}/{what}")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(got["error"], "too-large", "{what}: {got}");
        eprintln!("{what}: refused in {:?}", started.elapsed());
    }
    assert!(
        host.peak_rss_bytes() < 200 << 20,
        "the huge body was buffered: peak RSS {} MiB",
        host.peak_rss_bytes() >> 20
    );

    // A slow upstream: the request ends at its deadline, the host serves on.
    let started = Instant::now();
    let (status, _) = fetch(&host, &format!("{base}/slow")).await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let (status, got) = fetch(&host, &format!("{base}/features")).await;
    assert_eq!(
        (status, &got["status"]),
        (StatusCode::OK, &Value::from(200))
    );

    let samples = scrape(&host).await;
    let entry = base.as_str();
    assert!(
        value(
            &samples,
            "geofn_outbound_requests_total",
            &[("handler", "probe"), ("host", entry), ("outcome", "2xx")]
        ) >= 2.0
    );
    assert!(
        value(
            &samples,
            "geofn_outbound_requests_total",
            &[("handler", "probe"), ("outcome", "denied")]
        ) >= 4.0
    );
    assert!(host.logs().contains("not on the handler's allow-list"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_handler_without_an_outbound_list_calls_nothing() {
    let target = upstream(0).await;
    let db = TestDb::start();
    let dir = handlers_dir(PROBE_ENTRY, &[("probe.wasm", test_handler("probe-v1"))]);
    let host = Host::serve(&db, dir.path(), &[]).await;
    let (_, got) = fetch(&host, &format!("http://127.0.0.1:{}/features", target.port)).await;
    assert_eq!(got["error"], "denied", "{got}");
    assert_eq!(target.seen.hits("features"), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_traced_call_is_a_client_span_and_carries_the_trace_onward() {
    let target = upstream(0).await;
    let db = TestDb::start();
    let manifest = format!(
        "{PROBE_ENTRY}[handlers.probe.outbound]\nallowed_hosts = [\"http://127.0.0.1:{}\"]\n",
        target.port
    );
    let dir = handlers_dir(&manifest, &[("probe.wasm", test_handler("probe-v1"))]);
    let receiver = Receiver::start().await;
    let host = traced_host(&db, dir.path(), &receiver).await;
    let url = format!("http://127.0.0.1:{}/features?key=k3y", target.port);
    let response = client()
        .get(host.url("/probe/fetch"))
        .query(&[("url", url.as_str())])
        .header("traceparent", traceparent("00f067aa0ba902b7"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let spans = receiver
        .trace(CALLER_TRACE, Duration::from_secs(10), |spans| {
            spans
                .iter()
                .any(|s| s.kind == KIND_CLIENT && s.name == "GET")
        })
        .await;
    let call = spans
        .iter()
        .find(|s| s.kind == KIND_CLIENT && s.name == "GET")
        .unwrap_or_else(|| panic!("no outbound span in {spans:#?}"));
    assert_eq!(call.attr("http.response.status_code"), Some("200"));
    assert_eq!(
        call.attr("url.full"),
        Some(format!("http://127.0.0.1:{}/features", target.port).as_str()),
        "no query in the span"
    );
    let handler = spans.iter().find(|s| s.name == "handler probe").unwrap();
    assert_eq!(call.parent_span_id, handler.span_id);
    let sent = target
        .seen
        .traceparent
        .lock()
        .unwrap()
        .clone()
        .expect("a traceparent");
    assert_eq!(
        sent,
        format!("00-{CALLER_TRACE}-{}-01", call.span_id),
        "the upstream continues the trace from the call's span"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_python_handler_calls_out_with_its_secret_and_a_refusal_is_a_502() {
    let target = upstream(0).await;
    let db = TestDb::start();
    let manifest = format!(
        "[handlers.pyfetch]\ncomponent = \"fetch.wasm\"\n\
         [handlers.pyfetch.outbound]\nallowed_hosts = [\"http://127.0.0.1:{}\"]\n",
        target.port
    );
    let component = target_dir().join("python-handlers/fetch.wasm");
    let dir = handlers_dir(&manifest, &[("fetch.wasm", component)]);
    let mut command = Host::serve_command(&db, dir.path());
    command
        .args(["--listen", "127.0.0.1:0"])
        .env("GEOFN_VAR_PYFETCH_TOKEN", "py-s3cret-token");
    let host = Host::spawn(command).await;
    let call = |url: String| {
        let host = &host;
        async move {
            let response = client()
                .get(host.url("/pyfetch"))
                .query(&[("url", url.as_str())])
                .send()
                .await
                .unwrap();
            (response.status(), response.json::<Value>().await.unwrap())
        }
    };
    let (status, got) = call(format!("http://127.0.0.1:{}/features", target.port)).await;
    assert_eq!(status, StatusCode::OK, "{got}");
    assert_eq!(got["json"]["type"], "FeatureCollection");
    assert_eq!(
        target.seen.authorization.lock().unwrap().as_deref(),
        Some("Bearer py-s3cret-token"),
        "the secret reached the upstream it is for"
    );
    let (status, problem) = call("http://169.254.169.254/latest/meta-data/".into()).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{problem}");
    assert_eq!(problem["type"], "urn:geofn:problem:upstream-failed");
    assert!(!host.logs().contains("py-s3cret-token"));
}

/// An HTTPS upstream: nginx on loopback with a certificate for
/// `localhost` signed by a CA of the test's own; answers a FeatureCollection.
struct TlsUpstream {
    port: u16,
    ca_file: std::path::PathBuf,
    _dir: tempfile::TempDir,
    nginx: tokio::process::Child,
}

async fn tls_upstream() -> TlsUpstream {
    let dir = tempfile::tempdir().unwrap();
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "geofn outbound test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    let path = |name: &str| dir.path().join(name);
    std::fs::write(path("ca.pem"), ca.pem()).unwrap();
    std::fs::write(path("cert.pem"), cert.pem()).unwrap();
    std::fs::write(path("key.pem"), key.serialize_pem()).unwrap();
    let port = support::free_port();
    let d = dir.path().display();
    std::fs::write(
        path("nginx.conf"),
        format!(
            "daemon off; master_process off; pid {d}/nginx.pid; error_log {d}/error.log;\n\
             events {{}}\n\
             http {{ access_log off; client_body_temp_path {d}; proxy_temp_path {d};\n\
               fastcgi_temp_path {d}; uwsgi_temp_path {d}; scgi_temp_path {d};\n\
               server {{ listen 127.0.0.1:{port} ssl;\n\
                 ssl_certificate {d}/cert.pem; ssl_certificate_key {d}/key.pem;\n\
                 location / {{ default_type application/json;\n\
                   return 200 '{{\"type\":\"FeatureCollection\",\"features\":[]}}'; }} }} }}\n"
        ),
    )
    .unwrap();
    let nginx = tokio::process::Command::new("nginx")
        .arg("-c")
        .arg(path("nginx.conf"))
        .arg("-p")
        .arg(dir.path())
        .arg("-e")
        .arg(path("error.log"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("nginx (make deps installs it)");
    let deadline = Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "nginx did not listen");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    TlsUpstream {
        port,
        ca_file: path("ca.pem"),
        _dir: dir,
        nginx,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_https_upstream_is_trusted_through_the_operators_ca_and_not_without() {
    let upstream = tls_upstream().await;
    let db = TestDb::start();
    let manifest = format!(
        "{PROBE_ENTRY}[handlers.probe.outbound]\nallowed_hosts = [\"https://localhost:{}\"]\n",
        upstream.port
    );
    let dir = handlers_dir(&manifest, &[("probe.wasm", test_handler("probe-v1"))]);
    let url = format!("https://localhost:{}/features", upstream.port);
    let ca = upstream.ca_file.to_str().unwrap();
    let trusting = Host::serve(&db, dir.path(), &["--outbound-ca-file", ca]).await;
    let (_, got) = fetch(&trusting, &url).await;
    assert_eq!(got["status"], 200, "{got}");
    assert!(got["body"].as_str().unwrap().contains("FeatureCollection"));
    let plain = Host::serve(&db, dir.path(), &[]).await;
    let (_, got) = fetch(&plain, &url).await;
    assert_eq!(
        got["error"], "unreachable",
        "an unknown CA is refused: {got}"
    );
    drop(upstream.nginx);
}
