//! An OTLP/HTTP trace receiver on loopback: what a collector would get
//! from the host, decoded with the collector's own protobuf messages.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use prost::Message;

/// OTLP's span kinds, as numbered on the wire.
pub const KIND_SERVER: i32 = 2;
pub const KIND_CLIENT: i32 = 3;
/// OTLP's status codes.
pub const STATUS_ERROR: i32 = 2;

/// One exported span, flattened.
#[derive(Debug, Clone)]
pub struct Span {
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: String,
    pub name: String,
    pub kind: i32,
    pub attributes: HashMap<String, String>,
    pub status_code: i32,
    pub status_message: String,
    pub duration: Duration,
    /// The exporting process's resource attributes.
    pub resource: HashMap<String, String>,
    pub events: Vec<String>,
}

impl Span {
    pub fn attr(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).map(String::as_str)
    }
}

/// The receiver: `endpoint()` is what `OTEL_EXPORTER_OTLP_ENDPOINT` takes.
pub struct Receiver {
    pub port: u16,
    spans: Arc<Mutex<Vec<Span>>>,
    posts: Arc<Mutex<u32>>,
}

#[derive(Clone)]
struct Sink {
    spans: Arc<Mutex<Vec<Span>>>,
    posts: Arc<Mutex<u32>>,
}

impl Receiver {
    /// Listens on `port` (0: any free one).
    pub async fn start_on(port: u16) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let port = listener.local_addr()?.port();
        let sink = Sink {
            spans: Arc::default(),
            posts: Arc::default(),
        };
        let app = Router::new()
            .route("/v1/traces", post(receive))
            .with_state(sink.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Self {
            port,
            spans: sink.spans,
            posts: sink.posts,
        })
    }

    pub async fn start() -> Self {
        Self::start_on(0).await.unwrap()
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Export requests received so far (empty ones included).
    pub fn posts(&self) -> u32 {
        *self.posts.lock().unwrap()
    }

    pub fn spans(&self) -> Vec<Span> {
        self.spans.lock().unwrap().clone()
    }

    /// The spans of `trace_id`, once `done` says they are all in (or the
    /// timeout passed: then what arrived).
    pub async fn trace(
        &self,
        trace_id: &str,
        timeout: Duration,
        done: impl Fn(&[Span]) -> bool,
    ) -> Vec<Span> {
        let until = Instant::now() + timeout;
        loop {
            let spans: Vec<Span> = self
                .spans()
                .into_iter()
                .filter(|span| span.trace_id == trace_id)
                .collect();
            if done(&spans) || Instant::now() > until {
                return spans;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn receive(
    State(sink): State<Sink>,
    body: Bytes,
) -> ([(&'static str, &'static str); 1], Vec<u8>) {
    let request = ExportTraceServiceRequest::decode(body).expect("an OTLP protobuf export");
    *sink.posts.lock().unwrap() += 1;
    let mut spans = sink.spans.lock().unwrap();
    for resource_spans in request.resource_spans {
        let resource = resource_spans
            .resource
            .map(|resource| flatten(&resource.attributes))
            .unwrap_or_default();
        for scope in resource_spans.scope_spans {
            for span in scope.spans {
                let status = span.status.unwrap_or_default();
                spans.push(Span {
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent_span_id: hex(&span.parent_span_id),
                    name: span.name,
                    kind: span.kind,
                    attributes: flatten(&span.attributes),
                    status_code: status.code,
                    status_message: status.message,
                    duration: Duration::from_nanos(
                        span.end_time_unix_nano
                            .saturating_sub(span.start_time_unix_nano),
                    ),
                    resource: resource.clone(),
                    events: span
                        .events
                        .into_iter()
                        .map(|event| {
                            let fields = flatten(&event.attributes);
                            format!("{} {fields:?}", event.name)
                        })
                        .collect(),
                });
            }
        }
    }
    (
        [("content-type", "application/x-protobuf")],
        ExportTraceServiceResponse::default().encode_to_vec(),
    )
}

fn flatten(attributes: &[KeyValue]) -> HashMap<String, String> {
    attributes
        .iter()
        .map(|kv| {
            let value = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(Value::StringValue(s)) => s.clone(),
                Some(Value::IntValue(i)) => i.to_string(),
                Some(Value::DoubleValue(d)) => d.to_string(),
                Some(Value::BoolValue(b)) => b.to_string(),
                other => format!("{other:?}"),
            };
            (kv.key.clone(), value)
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The names of a process's threads (`/proc/PID/task/*/comm`, at most 15
/// bytes each).
pub fn thread_names(pid: u32) -> Vec<String> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .filter_map(Result::ok)
        .filter_map(|task| std::fs::read_to_string(task.path().join("comm")).ok())
        .map(|name| name.trim_end().to_owned())
        .collect()
}
