//! OpenTelemetry traces as a collector receives them: a real host
//! exporting over OTLP/HTTP to a receiver on loopback.

mod support;

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use support::otlp::{KIND_CLIENT, KIND_SERVER, Receiver, STATUS_ERROR, thread_names};
use support::traced::{
    CALLER_TRACE, EXPORT_THREAD, one, traced_host, traced_host_with, traceparent,
};
use support::{Host, TestDb, client, points_and_probe};
use tokio::process::Command;

#[tokio::test(flavor = "multi_thread")]
async fn a_traced_request_is_a_tree_from_the_callers_span_to_the_sql() {
    let db = TestDb::start();
    let dir = points_and_probe();
    let receiver = Receiver::start().await;
    let host = traced_host(&db, dir.path(), &receiver).await;
    assert!(
        thread_names(host.pid())
            .iter()
            .any(|name| name == EXPORT_THREAD),
        "the export thread runs: {:?}",
        thread_names(host.pid())
    );

    // A POST continuing the caller's trace.
    let caller_span = "00f067aa0ba902b7";
    let posted = client()
        .post(host.url("/point"))
        .header("traceparent", traceparent(caller_span))
        .header("tracestate", "vendor=opaque")
        .json(&json!({"name": "secret-name-1", "longitude": 10.5, "latitude": 59.9}))
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), StatusCode::CREATED);
    let spans = receiver
        .trace(CALLER_TRACE, Duration::from_secs(10), |spans| {
            spans.iter().any(|s| s.kind == KIND_CLIENT)
                && spans.iter().any(|s| s.kind == KIND_SERVER)
        })
        .await;

    let server = one(&spans, "SERVER span", |s| s.kind == KIND_SERVER);
    assert_eq!(
        server.parent_span_id, caller_span,
        "the caller's span is the parent"
    );
    assert_eq!(server.name, "POST /point");
    assert_eq!(server.attr("http.request.method"), Some("POST"));
    assert_eq!(server.attr("http.route"), Some("/point"));
    assert_eq!(server.attr("url.path"), Some("/point"));
    // The ids every log line carries are the span's own, not attributes.
    assert_eq!(server.attr("trace_id"), None);
    assert_eq!(server.attr("span_id"), None);
    assert_eq!(server.attr("http.response.status_code"), Some("201"));
    assert_eq!(server.attr("client.address"), Some("127.0.0.1"));
    assert_ne!(server.status_code, STATUS_ERROR);
    assert_eq!(
        server.resource.get("service.name").map(String::as_str),
        Some("geofn")
    );

    let handler = one(&spans, "handler span", |s| s.name == "handler points");
    assert_eq!(handler.parent_span_id, server.span_id);
    assert_eq!(handler.attr("geofn.handler.name"), Some("points"));
    assert_eq!(handler.attr("geofn.instance"), Some("fresh"));
    assert_eq!(handler.attr("geofn.handler.digest").map(str::len), Some(64));
    assert!(handler.attr("geofn.instantiate_ms").is_some());
    assert!(handler.attr("geofn.memory.peak_bytes").is_some());
    assert!(
        spans.iter().all(|s| s.name != "admission"),
        "a request that waited for nothing has no admission span"
    );

    let insert = one(&spans, "INSERT span", |s| {
        s.kind == KIND_CLIENT && s.attr("db.operation.name") == Some("INSERT")
    });
    assert_eq!(insert.parent_span_id, handler.span_id);
    assert_eq!(insert.attr("db.system.name"), Some("postgresql"));
    assert_eq!(insert.name, "INSERT points");
    assert_eq!(insert.attr("db.query.summary"), Some("INSERT points"));
    assert_eq!(insert.attr("db.response.returned_rows"), Some("1"));
    assert_eq!(insert.attr("geofn.db.replica"), Some("false"));
    assert!(insert.attr("geofn.db.pool_wait_ms").is_some());
    let text = insert.attr("db.query.text").unwrap();
    assert!(
        text.starts_with("INSERT INTO points") && text.contains("$1"),
        "{text}"
    );
    let everything = format!("{spans:?}");
    assert!(
        !everything.contains("secret-name-1"),
        "a parameter's value reached a span: {everything}"
    );

    // A trap: the handler's span and the request's are errors, with why.
    let trap_span = "00f067aa0ba902b8";
    let trapped = client()
        .get(host.url("/probe/trap"))
        .header("traceparent", traceparent(trap_span))
        .send()
        .await
        .unwrap();
    assert_eq!(trapped.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let spans = receiver
        .trace(CALLER_TRACE, Duration::from_secs(10), |spans| {
            spans.iter().any(|s| s.parent_span_id == trap_span)
                && spans.iter().any(|s| s.name == "handler probe")
        })
        .await;
    let server = one(&spans, "trapped SERVER span", |s| {
        s.parent_span_id == trap_span
    });
    assert_eq!(server.status_code, STATUS_ERROR);
    assert_eq!(server.attr("http.response.status_code"), Some("500"));
    let probe = one(&spans, "probe's handler span", |s| {
        s.name == "handler probe"
    });
    assert_eq!(probe.parent_span_id, server.span_id);
    assert_eq!(probe.status_code, STATUS_ERROR);
    assert!(
        probe.status_message.contains("trapped"),
        "{}",
        probe.status_message
    );

    // The request's log lines, the handler's own included, carry the ids.
    let log_span = "00f067aa0ba902b9";
    let logged = client()
        .get(host.url("/probe/log?message=traced-guest-line"))
        .header("traceparent", traceparent(log_span))
        .send()
        .await
        .unwrap();
    assert_eq!(logged.status(), StatusCode::OK);
    assert!(
        host.wait_for_log("traced-guest-line", Duration::from_secs(5))
            .await
    );
    let spans = receiver
        .trace(CALLER_TRACE, Duration::from_secs(10), |spans| {
            spans.iter().any(|s| s.parent_span_id == log_span)
        })
        .await;
    let server = one(&spans, "logging SERVER span", |s| {
        s.parent_span_id == log_span
    });
    let line = host
        .logs()
        .lines()
        .find(|line| line.contains("traced-guest-line"))
        .unwrap()
        .to_owned();
    assert!(line.contains(&format!("trace_id={CALLER_TRACE}")), "{line}");
    assert!(
        line.contains(&format!("span_id={}", server.span_id)),
        "{line}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_otel_variables_nothing_is_exported_and_no_export_thread_runs() {
    let db = TestDb::start();
    let dir = points_and_probe();
    // Where an SDK left at its defaults would send: localhost:4318 (when
    // another process holds that port, the thread check below still holds).
    let default_port = Receiver::start_on(4318).await.ok();
    let host = Host::serve(&db, dir.path(), &[]).await;
    for _ in 0..20 {
        let answered = client()
            .get(host.url("/points"))
            .header("traceparent", traceparent("00f067aa0ba902ba"))
            .send()
            .await
            .unwrap();
        assert_eq!(answered.status(), StatusCode::OK);
    }
    let threads = thread_names(host.pid());
    assert!(!threads.is_empty(), "the host's threads are readable");
    assert!(
        !threads.iter().any(|name| name.starts_with("OpenTelemetry")),
        "{threads:?}"
    );
    if let Some(receiver) = default_port {
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(receiver.posts(), 0);
    }
    let logs = host.logs();
    assert!(!logs.contains("trace_id="), "{logs}");
}

#[tokio::test(flavor = "multi_thread")]
async fn unsampled_requests_export_nothing_and_their_logs_still_carry_a_trace_id() {
    let db = TestDb::start();
    let dir = points_and_probe();
    let receiver = Receiver::start().await;
    let sampler = [
        ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
        ("OTEL_TRACES_SAMPLER_ARG", "0"),
    ];
    let host = traced_host_with(&db, dir.path(), &receiver.endpoint(), &sampler).await;

    // The caller did not sample (flag 00), and the ratio samples no root.
    let not_sampled = format!("00-{CALLER_TRACE}-00f067aa0ba902bb-00");
    let logged = client()
        .get(host.url("/probe/log?message=unsampled-guest-line"))
        .header("traceparent", not_sampled)
        .send()
        .await
        .unwrap();
    assert_eq!(logged.status(), StatusCode::OK);
    let root = client()
        .get(host.url("/probe/log?message=unsampled-root-line"))
        .send()
        .await
        .unwrap();
    assert_eq!(root.status(), StatusCode::OK);
    // The caller sampled it: parent-based follows.
    let sampled_span = "00f067aa0ba902bc";
    let sampled = client()
        .get(host.url("/points"))
        .header("traceparent", traceparent(sampled_span))
        .send()
        .await
        .unwrap();
    assert_eq!(sampled.status(), StatusCode::OK);
    let spans = receiver
        .trace(CALLER_TRACE, Duration::from_secs(10), |spans| {
            spans.iter().any(|s| s.parent_span_id == sampled_span)
        })
        .await;
    assert!(
        spans.iter().all(|s| !s.name.contains("probe")),
        "{spans:#?}"
    );
    one(&spans, "sampled SERVER span", |s| {
        s.parent_span_id == sampled_span
    });
    assert!(
        receiver.spans().iter().all(|s| s.trace_id == CALLER_TRACE),
        "a root was sampled at ratio 0"
    );

    assert!(
        host.wait_for_log("unsampled-root-line", Duration::from_secs(5))
            .await
    );
    let logs = host.logs();
    let line = |needle: &str| {
        logs.lines()
            .find(|l| l.contains(needle))
            .unwrap()
            .to_owned()
    };
    let caller = line("unsampled-guest-line");
    assert!(
        caller.contains(&format!("trace_id={CALLER_TRACE}")),
        "{caller}"
    );
    let root = line("unsampled-root-line");
    let trace_id = root
        .split("trace_id=")
        .nth(1)
        .and_then(|rest| rest.get(..32))
        .unwrap_or_default();
    assert!(
        trace_id.len() == 32
            && trace_id != CALLER_TRACE
            && trace_id.bytes().all(|b| b.is_ascii_hexdigit()),
        "{root}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_waiting_for_its_turn_has_an_admission_span() {
    let db = TestDb::start();
    let dir = support::handlers_dir(
        "[handlers.probe]\ncomponent = \"probe.wasm\"\nroutes = [\"GET /probe/{action}\"]\n\
         [handlers.probe.limits]\ndeadline_ms = 5000\nmax_concurrency = 1\n",
        &[("probe.wasm", support::test_handler("probe-v1"))],
    );
    let receiver = Receiver::start().await;
    let host = traced_host(&db, dir.path(), &receiver).await;
    let parents = ["00f067aa0ba902c1", "00f067aa0ba902c2"];
    let requests: Vec<_> = parents
        .iter()
        .map(|parent| {
            let request = client()
                .get(host.url("/probe/sleep?ms=300"))
                .header("traceparent", traceparent(parent));
            tokio::spawn(async move { request.send().await.unwrap().status() })
        })
        .collect();
    for request in requests {
        assert_eq!(request.await.unwrap(), StatusCode::OK);
    }
    let spans = receiver
        .trace(CALLER_TRACE, Duration::from_secs(10), |spans| {
            spans.iter().filter(|s| s.kind == KIND_SERVER).count() == 2
                && spans.iter().any(|s| s.name == "admission")
        })
        .await;
    let admission = one(&spans, "admission span", |s| s.name == "admission");
    let waited = one(&spans, "the waiting request's span", |s| {
        s.span_id == admission.parent_span_id
    });
    assert_eq!(waited.kind, KIND_SERVER);
    assert_eq!(admission.attr("geofn.handler.name"), Some("probe"));
    assert!(
        admission.duration >= Duration::from_millis(200),
        "it waited for the other's 300 ms: {:?}",
        admission.duration
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_grpc_protocol_exports_to_a_grpc_collector() {
    use std::process::Stdio;
    use tokio::io::{AsyncBufReadExt, BufReader};

    let mut receiver = Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/support/otlp_grpc_receiver.py"
        ))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("python3 with grpcio and opentelemetry-proto (make test-deps)");
    let mut lines = BufReader::new(receiver.stdout.take().unwrap()).lines();
    let first = lines.next_line().await.unwrap().unwrap();
    let port = first.strip_prefix("listening ").unwrap().to_owned();

    let db = TestDb::start();
    let dir = points_and_probe();
    let endpoint = format!("http://127.0.0.1:{port}");
    let grpc = [("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")];
    let host = traced_host_with(&db, dir.path(), &endpoint, &grpc).await;
    let caller_span = "00f067aa0ba902d1";
    let answered = client()
        .get(host.url("/points"))
        .header("traceparent", traceparent(caller_span))
        .send()
        .await
        .unwrap();
    assert_eq!(answered.status(), StatusCode::OK);

    let server = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            let line = lines
                .next_line()
                .await
                .unwrap()
                .expect("the receiver ran on");
            let span: serde_json::Value = serde_json::from_str(&line).unwrap();
            if span["parent_span_id"] == caller_span {
                return span;
            }
        }
    })
    .await
    .expect("the SERVER span over gRPC within 15 s");
    assert_eq!(server["trace_id"], CALLER_TRACE);
    assert_eq!(server["name"], "GET /points");
    assert_eq!(server["kind"], KIND_SERVER);
    assert_eq!(server["service_name"], "geofn");
}

#[tokio::test(flavor = "multi_thread")]
async fn latency_buckets_carry_the_trace_ids_of_sampled_requests_in_openmetrics() {
    let db = TestDb::start();
    let dir = points_and_probe();
    let receiver = Receiver::start().await;
    let host = traced_host(&db, dir.path(), &receiver).await;
    let answered = client()
        .get(host.url("/points"))
        .header("traceparent", traceparent("00f067aa0ba902e1"))
        .send()
        .await
        .unwrap();
    assert_eq!(answered.status(), StatusCode::OK);

    let scraped = client()
        .get(host.url("/metrics"))
        .header(
            "accept",
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
        )
        .send()
        .await
        .unwrap();
    assert!(
        scraped.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text; version=1.0.0")
    );
    let text = scraped.text().await.unwrap();
    let exemplar = format!("# {{trace_id=\"{CALLER_TRACE}\"}}");
    let bucket = text
        .lines()
        .find(|line| {
            line.starts_with("geofn_http_request_duration_seconds_bucket{")
                && line.contains("route=\"/points\"")
                && line.contains(&exemplar)
        })
        .unwrap_or_else(|| panic!("no /points bucket with the trace's exemplar:\n{text}"));
    assert!(bucket.contains("status=\"2xx\""), "{bucket}");
    assert!(text.ends_with("# EOF\n"));

    // Prometheus' own OpenMetrics parser reads it, exemplar included.
    let parsed = std::process::Command::new("python3")
        .args(["-c", PARSE_OPENMETRICS])
        .arg(&text)
        .output()
        .expect("python3 with prometheus-client (make test-deps)");
    let stdout = String::from_utf8_lossy(&parsed.stdout);
    assert!(
        parsed.status.success(),
        "{}",
        String::from_utf8_lossy(&parsed.stderr)
    );
    assert!(stdout.contains(CALLER_TRACE), "{stdout}");

    // A plain Prometheus scrape is unchanged: no exemplars, no EOF.
    let plain = client().get(host.url("/metrics")).send().await.unwrap();
    assert!(
        plain.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let plain = plain.text().await.unwrap();
    assert!(!plain.contains("trace_id") && !plain.contains("# EOF"));
}

/// Parses argv[1] as OpenMetrics and prints every exemplar's trace id.
const PARSE_OPENMETRICS: &str = r#"
import sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
for family in text_string_to_metric_families(sys.argv[1]):
    for sample in family.samples:
        if sample.exemplar:
            print(family.name, sample.labels.get("route"), sample.exemplar.labels["trace_id"])
"#;
