//! The recording layer against a processor that keeps what it is given:
//! what a collector would receive for one sampled request.

use std::sync::{Arc, Mutex};

use opentelemetry::Value;
use opentelemetry::trace::{SpanKind, Status};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanProcessor};
use tracing::field::Empty;
use tracing_subscriber::layer::SubscriberExt;

use super::*;

/// Keeps every span it is handed.
#[derive(Debug, Default)]
struct Kept(Mutex<Vec<SpanData>>);

impl SpanProcessor for Kept {
    fn on_start(&self, _: &mut opentelemetry_sdk::trace::Span, _: &opentelemetry::Context) {}
    fn on_end(&self, span: SpanData) {
        self.0.lock().unwrap().push(span);
    }
    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }
    fn shutdown_with_timeout(&self, _: std::time::Duration) -> OTelSdkResult {
        Ok(())
    }
}

fn attr<'s>(span: &'s SpanData, key: &str) -> Option<&'s Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| &kv.value)
}

const CALLER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

/// One request with a caller's `traceparent`, a handler span with an
/// error event, a database span failing, and an unsampled request after.
#[test]
fn a_sampled_request_is_recorded_as_the_callers_child_with_typed_attributes() {
    let kept = Arc::new(Kept::default());
    let layer = exporting(
        Arc::clone(&kept) as Arc<dyn SpanProcessor>,
        Sampler::ParentBased(Box::new(Sampler::AlwaysOff)),
    );
    // As in the host: the log lines' layer beside the exporting one.
    let lines = tracing_subscriber::fmt::layer().with_writer(std::io::sink);
    let subscriber = tracing_subscriber::registry().with(lines).with(layer);
    let (headers, exemplar) = tracing::subscriber::with_default(subscriber, || {
        let traceparent = format!("00-{CALLER_TRACE}-{CALLER_SPAN}-01");
        let decision = decide(Some(&traceparent), Some("vendor=opaque"));
        assert!(decision.sampled());
        let request = decision.start(|ids| {
            assert!(ids.exported);
            assert_eq!(ids.trace_id.to_string(), CALLER_TRACE);
            tracing::info_span!(
                target: REQUEST_TARGET,
                "request",
                trace_id = %ids.trace_id,
                span_id = %ids.span_id,
                otel.kind = "server",
                otel.status_code = Empty,
            )
        });
        set_attributes(
            &request,
            vec![("http.response.status_code", AttributeValue::from(500u16))],
        );
        rename(&request, "GET /points".to_owned());
        let _in_request = request.enter();
        let handler = tracing::info_span!(
            target: TARGET,
            "handler",
            otel.name = %format_args!("handler {}", "points"),
            geofn.instance = "fresh",
        );
        let _in_handler = handler.enter();
        set_attribute(&handler, "probe.phase".to_owned(), "outer".to_owned());
        tracing::error!(target: "geofn::runtime", reason = "trap", "handler trapped");
        let db = tracing::info_span!(
            target: TARGET,
            "db",
            otel.kind = "client",
            db.response.returned_rows = Empty,
            otel.status_code = Empty,
            otel.status_description = Empty,
        );
        db.record("db.response.returned_rows", 3u64);
        db.record("otel.status_code", "error");
        db.record("otel.status_description", "deadline");
        let headers = outgoing_headers(&db);
        drop(db);
        drop(_in_handler);
        drop(handler);
        request.record("otel.status_code", "error");
        let exemplar = trace_id(&request);
        drop(_in_request);
        drop(request);

        let unsampled = decide(None, None);
        assert!(!unsampled.sampled());
        let quiet = unsampled.start(
            |ids| tracing::info_span!(target: REQUEST_TARGET, "request", trace_id = %ids.trace_id),
        );
        assert_eq!(trace_id(&quiet), None, "an unsampled span is not exported");
        (headers, exemplar)
    });

    let spans = kept.0.lock().unwrap();
    let names: Vec<_> = spans.iter().map(|s| s.name.as_ref()).collect();
    assert_eq!(names, ["db", "handler points", "GET /points"]);
    let (db, handler, server) = (&spans[0], &spans[1], &spans[2]);

    for span in [db, handler, server] {
        assert_eq!(span.span_context.trace_id().to_string(), CALLER_TRACE);
        assert!(span.span_context.is_sampled());
        assert_eq!(span.span_context.trace_state().header(), "vendor=opaque");
        assert!(span.end_time >= span.start_time);
    }
    assert_eq!(server.parent_span_id.to_string(), CALLER_SPAN);
    assert!(server.parent_span_is_remote);
    assert_eq!(server.span_kind, SpanKind::Server);
    assert!(matches!(server.status, Status::Error { .. }));
    assert_eq!(
        attr(server, "http.response.status_code"),
        Some(&Value::I64(500))
    );
    assert_eq!(
        attr(server, "trace_id"),
        None,
        "log-line ids are no attributes"
    );
    assert_eq!(attr(server, "span_id"), None);
    assert_eq!(exemplar.as_deref(), Some(CALLER_TRACE));

    assert_eq!(handler.parent_span_id, server.span_context.span_id());
    assert!(!handler.parent_span_is_remote);
    assert_eq!(handler.span_kind, SpanKind::Internal);
    assert_eq!(attr(handler, "geofn.instance"), Some(&Value::from("fresh")));
    assert_eq!(attr(handler, "probe.phase"), Some(&Value::from("outer")));
    assert_eq!(handler.events.len(), 1);
    assert_eq!(handler.events[0].name, "handler trapped");
    assert!(
        matches!(&handler.status, Status::Error { .. }),
        "an ERROR line inside marks the span failed"
    );

    assert_eq!(db.parent_span_id, handler.span_context.span_id());
    assert_eq!(db.span_kind, SpanKind::Client);
    assert_eq!(attr(db, "db.response.returned_rows"), Some(&Value::I64(3)));
    assert_eq!(db.status, Status::error("deadline"));
    let traceparent = headers
        .iter()
        .find(|(name, _)| name == "traceparent")
        .map(|(_, value)| value.as_str());
    let expected = format!("00-{CALLER_TRACE}-{}-01", db.span_context.span_id());
    assert_eq!(traceparent, Some(expected.as_str()));
}
