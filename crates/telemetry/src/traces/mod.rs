//! Traces over OTLP: where a request's time went, span by span.
//!
//! The other layers emit plain `tracing` spans (target [`TARGET`],
//! OpenTelemetry's semantic-convention names as fields); this module alone
//! knows OpenTelemetry's span model. When the standard `OTEL_*` variables
//! ask for an exporter, the binary builds it and [`exporting`] returns the
//! `tracing` layer that turns those spans into OpenTelemetry spans; when
//! they do not, nothing is built, no export thread starts, the trace spans
//! are disabled at their call sites, and [`enabled`] is false so the HTTP
//! face skips deciding and continuing callers' traces.
//!
//! Sampling is decided once per request, before its first span
//! ([`decide`]): an unsampled request's spans never reach OpenTelemetry,
//! so tracing 1% costs about what the 1% cost, not a span object for
//! every request.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use opentelemetry::KeyValue;
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{IdGenerator, RandomIdGenerator, SpanProcessor};
use tracing::Subscriber;
use tracing_subscriber::filter::Filtered;
use tracing_subscriber::layer::{self, Layer};
use tracing_subscriber::registry::LookupSpan;

use crate::sampler::Sampler;

mod gates;
mod recorder;
mod targets;
#[cfg(test)]
mod tests;

pub use gates::UnsampledOff;
use gates::{SampledOnly, sampled_only};
pub use recorder::Recorder;
use recorder::{Root, with_recording, with_root};
pub use targets::{LOG_LINES_SKIP, PARAMETER_LINES_SKIP, REQUEST_TARGET, TARGET};

/// The sampler the environment names, applied once per request before
/// any span exists (see [`decide`]).
static SAMPLER: OnceLock<Sampler> = OnceLock::new();

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Whether spans are exported: the HTTP face continues callers' traces
/// and records the server span's attributes only then.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// The layer that exports, filtered to sampled requests' spans, under
/// the gate that keeps the other requests' trace spans from being built.
pub type TraceLayer<S> = layer::Layered<UnsampledOff, Filtered<Recorder, SampledOnly<S>, S>, S>;

/// The layer that records the trace spans of sampled requests and hands
/// them, as they close, to `processor` (the binary's OTLP batch exporter,
/// its resource set); from now on [`enabled`] is true and requests are
/// sampled by `sampler` ([`decide`]). This crate stays free of HTTP and
/// gRPC clients. The accessors here ([`trace_id`], [`set_attributes`]...)
/// reach a span's recording through the process's
/// `tracing_subscriber::Registry`.
pub fn exporting<S>(processor: Arc<dyn SpanProcessor>, sampler: Sampler) -> TraceLayer<S>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    let _ = SAMPLER.set(sampler);
    let layer = Recorder::new(processor)
        .with_filter(sampled_only::<S>())
        .and_then(UnsampledOff);
    ENABLED.store(true, Ordering::Relaxed);
    layer
}

/// Stops deciding and recording for traces: the exporter is shutting down.
pub fn disable() {
    ENABLED.store(false, Ordering::Relaxed);
}

/// Whether a request is traced, decided once before any of its spans
/// exists, from the caller's W3C `traceparent`/`tracestate` (its trace id
/// and sampled flag) and the sampler `OTEL_TRACES_SAMPLER` names.
pub fn decide(traceparent: Option<&str>, tracestate: Option<&str>) -> Decision {
    let headers = Headers {
        traceparent,
        tracestate,
    };
    let parent = TraceContextPropagator::new().extract(&headers);
    let sampled = SAMPLER
        .get()
        .is_some_and(|sampler| sampler.samples(parent.span().span_context()));
    Decision { parent, sampled }
}

/// A request's sampling decision and the caller's context.
#[derive(Debug)]
pub struct Decision {
    parent: opentelemetry::Context,
    sampled: bool,
}

impl Decision {
    /// Whether the request's spans are exported.
    pub fn sampled(&self) -> bool {
        self.sampled
    }

    /// Creates the request's span with `make(ids)`: a span of target
    /// [`REQUEST_TARGET`] with `trace_id` and `span_id` fields, and an
    /// `otel.kind` field only when `ids.exported` (see
    /// [`is_exported_request`]). The ids are drawn first (the caller's
    /// trace id, or a new one) so that the span is made with them: every
    /// log line of the request shows them, and when sampled the exported
    /// span is the caller's span's child under the same ids.
    pub fn start(self, make: impl FnOnce(&RequestIds) -> tracing::Span) -> tracing::Span {
        let parent = self.parent.span().span_context().clone();
        let generator = RandomIdGenerator::default();
        let trace_id = if parent.is_valid() {
            parent.trace_id()
        } else {
            generator.new_trace_id()
        };
        let span_id = generator.new_span_id();
        let ids = RequestIds {
            trace_id,
            span_id,
            exported: self.sampled,
        };
        if !self.sampled {
            return make(&ids);
        }
        let root = Root {
            trace_id,
            span_id,
            remote_parent: if parent.is_valid() {
                parent.span_id()
            } else {
                SpanId::INVALID
            },
            trace_state: parent.trace_state().clone(),
        };
        with_root(root, || make(&ids))
    }
}

/// The ids a request span is made with.
#[derive(Debug)]
pub struct RequestIds {
    /// The caller's trace id, or a new one.
    pub trace_id: TraceId,
    /// The request span's own id.
    pub span_id: SpanId,
    /// Whether the span is exported: make it with an `otel.kind` field.
    pub exported: bool,
}

/// An attribute's value: OpenTelemetry types status codes and counts.
#[derive(Debug, Clone)]
pub enum AttributeValue {
    /// A string.
    Text(String),
    /// An integer.
    Int(i64),
}

impl From<String> for AttributeValue {
    fn from(text: String) -> Self {
        Self::Text(text)
    }
}

impl From<u16> for AttributeValue {
    fn from(n: u16) -> Self {
        Self::Int(i64::from(n))
    }
}

/// Whether `span` is a request span this process exports (a sampled
/// one): what is recorded on it only then is worth computing.
pub fn is_exported_request(span: &tracing::Span) -> bool {
    span.metadata().is_some_and(targets::is_sampled_request)
}

/// The trace id of an exported span, as 32 hex digits.
pub fn trace_id(span: &tracing::Span) -> Option<String> {
    with_recording(span, |recording| recording.trace_id.to_string())
}

/// The W3C Trace Context headers (`traceparent`, and `tracestate` when
/// there is one) that continue `span`'s trace in a call it makes; none
/// when it is not exported.
pub fn outgoing_headers(span: &tracing::Span) -> Vec<(String, String)> {
    let Some(context) = with_recording(span, |recording| {
        SpanContext::new(
            recording.trace_id,
            recording.span_id,
            TraceFlags::SAMPLED,
            false,
            recording.trace_state.clone(),
        )
    }) else {
        return Vec::new();
    };
    let mut headers = HashMap::new();
    let context = opentelemetry::Context::new().with_remote_span_context(context);
    TraceContextPropagator::new().inject_context(&context, &mut headers);
    headers.into_iter().collect()
}

/// Sets one attribute whose key is only known at run time (a handler's
/// own), on an exported span.
pub fn set_attribute(span: &tracing::Span, key: String, value: String) {
    with_recording(span, |recording| recording.push(KeyValue::new(key, value)));
}

/// Sets OpenTelemetry attributes on an exported span without making them
/// `tracing` fields, which every log line would then repeat; a no-op on a
/// span that is not exported.
pub fn set_attributes(span: &tracing::Span, attributes: Vec<(&'static str, AttributeValue)>) {
    with_recording(span, |recording| {
        for (key, value) in attributes {
            recording.push(match value {
                AttributeValue::Text(text) => KeyValue::new(key, text),
                AttributeValue::Int(n) => KeyValue::new(key, n),
            });
        }
    });
}

/// Renames an exported span already started (a request's SERVER span,
/// once its route is known).
pub fn rename(span: &tracing::Span, name: String) {
    with_recording(span, |recording| recording.rename(name));
}

/// The two headers W3C Trace Context reads.
struct Headers<'h> {
    traceparent: Option<&'h str>,
    tracestate: Option<&'h str>,
}

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        match key {
            "traceparent" => self.traceparent,
            "tracestate" => self.tracestate,
            _ => None,
        }
    }

    fn keys(&self) -> Vec<&str> {
        vec!["traceparent", "tracestate"]
    }
}
