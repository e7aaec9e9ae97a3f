//! A handler's own spans (the `trace` interface) as a collector receives
//! them: nested under the handler call, bounded, cut, from Rust and Python.

mod support;

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use support::otlp::{Receiver, STATUS_ERROR};
use support::traced::{CALLER_TRACE, one, traced_host, traceparent};
use support::{TestDb, client, points_and_probe};

#[tokio::test(flavor = "multi_thread")]
async fn a_handlers_own_spans_nest_under_its_call_and_are_bounded() {
    let db = TestDb::start();
    let dir = points_and_probe();
    let receiver = Receiver::start().await;
    let host = traced_host(&db, dir.path(), &receiver).await;
    let answered = client()
        .get(host.url("/probe/spans?count=40"))
        .header("traceparent", traceparent("00f067aa0ba902f1"))
        .send()
        .await
        .unwrap();
    assert_eq!(answered.status(), StatusCode::OK);
    let spans = receiver
        .trace(CALLER_TRACE, Duration::from_secs(10), |spans| {
            spans.iter().any(|s| s.name == "handler probe")
                && spans.iter().any(|s| s.name == "probe work")
        })
        .await;
    let handler = one(&spans, "handler span", |s| s.name == "handler probe");
    let work = one(&spans, "the guest's outer span", |s| s.name == "probe work");
    assert_eq!(work.parent_span_id, handler.span_id);
    assert_eq!(work.attr("probe.phase"), Some("outer"));
    let step = one(&spans, "the guest's inner span", |s| s.name == "probe step");
    assert_eq!(step.parent_span_id, work.span_id);
    assert_eq!(step.attr("probe.rows"), Some("42"));
    let failed = one(&spans, "the guest's failed span", |s| {
        s.name == "probe failure"
    });
    assert_eq!(failed.status_code, STATUS_ERROR);
    assert_eq!(failed.status_message, "it went wrong on purpose");
    let own = spans
        .iter()
        .filter(|s| s.name.starts_with("probe "))
        .count();
    assert_eq!(own, 32, "43 asked for, 32 recorded");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_python_handlers_own_span_comes_through_its_sdk() {
    let db = TestDb::start();
    let dir = support::shipped_with_python_points();
    let receiver = Receiver::start().await;
    let host = traced_host(&db, dir.path(), &receiver).await;
    let posted = client()
        .post(host.url("/point"))
        .header("traceparent", traceparent("00f067aa0ba902f2"))
        .json(&json!({"name": "from python", "longitude": 1.5, "latitude": 2.5}))
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), StatusCode::CREATED);
    let spans = receiver
        .trace(CALLER_TRACE, Duration::from_secs(10), |spans| {
            spans.iter().any(|s| s.name == "check point")
                && spans.iter().any(|s| s.name == "handler points")
        })
        .await;
    let handler = one(&spans, "handler span", |s| s.name == "handler points");
    let check = one(&spans, "the Python handler's span", |s| {
        s.name == "check point"
    });
    assert_eq!(check.parent_span_id, handler.span_id);
    assert_eq!(check.attr("point.name_chars"), Some("11"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_handler_hoarding_spans_traps_and_long_names_are_cut() {
    let db = TestDb::start();
    let dir = points_and_probe();
    let receiver = Receiver::start().await;
    let host = traced_host(&db, dir.path(), &receiver).await;
    // 300 handles held open at once: past the host's 256, a trap (a 500),
    // not a table growing without end.
    let hoarded = client()
        .get(host.url("/probe/spans?count=300&hold"))
        .header("traceparent", traceparent("00f067aa0ba902f3"))
        .send()
        .await
        .unwrap();
    assert_eq!(hoarded.status(), StatusCode::INTERNAL_SERVER_ERROR);
    // Not traced: the bound holds all the same.
    let untraced = client()
        .get(host.url("/probe/spans?count=300&hold"))
        .send()
        .await
        .unwrap();
    assert_eq!(untraced.status(), StatusCode::INTERNAL_SERVER_ERROR);

    let long = client()
        .get(host.url("/probe/spans?count=0&long"))
        .header("traceparent", traceparent("00f067aa0ba902f4"))
        .send()
        .await
        .unwrap();
    assert_eq!(long.status(), StatusCode::OK);
    let spans = receiver
        .trace(CALLER_TRACE, Duration::from_secs(10), |spans| {
            spans.iter().any(|s| s.name.starts_with("xxx"))
        })
        .await;
    let cut = one(&spans, "the long-named span", |s| s.name.starts_with("xxx"));
    assert_eq!(cut.name.len(), 128);
    let (key, value) = cut.attributes.iter().next().expect("its one attribute");
    assert_eq!((key.len(), value.len()), (128, 1024));
}
