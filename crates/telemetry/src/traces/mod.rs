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

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{IdGenerator, RandomIdGenerator};
use tracing::Subscriber;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::filter::Filtered;
use tracing_subscriber::layer::{self, Layer};
use tracing_subscriber::registry::LookupSpan;

use crate::sampler::Sampler;

mod gates;
mod targets;

use gates::{SAMPLE_NEXT, SampledOnly, sampled_only};
pub use gates::{UnsampledOff, WithoutLogIds};
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
pub type TraceLayer<S> = layer::Layered<
    UnsampledOff,
    Filtered<
        tracing_opentelemetry::OpenTelemetryLayer<S, opentelemetry_sdk::trace::Tracer>,
        SampledOnly<S>,
        S,
    >,
    S,
>;

/// The layer that turns the trace spans of sampled requests into
/// OpenTelemetry spans for `tracer`; from now on [`enabled`] is true and
/// requests are sampled by `sampler` ([`decide`]). The binary builds the
/// exporter and its provider (which must sample everything it is given):
/// this crate stays free of HTTP and gRPC clients.
pub fn exporting<S>(tracer: opentelemetry_sdk::trace::Tracer, sampler: Sampler) -> TraceLayer<S>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    let _ = SAMPLER.set(sampler);
    let layer = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        // Our spans say what they are; a span's source file, target and
        // thread would be five more attributes on every one.
        .with_location(false)
        .with_target(false)
        .with_threads(false)
        .with_tracked_inactivity(false)
        // Spans are entered at every poll of a handler's future; making
        // each the OpenTelemetry API's current context then costs an
        // attach and a detach per poll, and nothing here reads it.
        .with_context_activation(false)
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
    /// [`REQUEST_TARGET`] with `trace_id` and `span_id` fields, with an
    /// `otel.kind` field only when sampled (see [`is_exported_request`]).
    /// Exported as the caller's span's child when sampled; in either case
    /// carrying the trace and span ids every log line of the request
    /// shows (the caller's trace id, or a new one). An unsampled request's
    /// ids are drawn first and made with the span: recording them after
    /// would reformat the span's fields for the log lines once more.
    pub fn start(self, make: impl FnOnce(&RequestIds) -> tracing::Span) -> tracing::Span {
        if !self.sampled {
            let parent = self.parent.span().span_context().clone();
            let ids = RandomIdGenerator::default();
            let trace_id = if parent.is_valid() {
                parent.trace_id()
            } else {
                ids.new_trace_id()
            };
            let span_id = ids.new_span_id();
            return make(&RequestIds::Logged { trace_id, span_id });
        }
        SAMPLE_NEXT.with(|next| next.set(true));
        let span = make(&RequestIds::Exported);
        SAMPLE_NEXT.with(|next| next.set(false));
        if span.is_disabled() {
            return span;
        }
        // Only fails for a span already started or one no layer exports.
        let _ = span.set_parent(self.parent);
        let ids = span.context().span().span_context().clone();
        span.record("trace_id", tracing::field::display(ids.trace_id()));
        span.record("span_id", tracing::field::display(ids.span_id()));
        span
    }
}

/// The ids a request span is made with.
#[derive(Debug)]
pub enum RequestIds {
    /// Sampled: the exporter assigns them once the span exists, and
    /// [`Decision::start`] records them; make the fields `Empty`.
    Exported,
    /// Not sampled: the ids its log lines carry.
    Logged {
        /// The caller's trace id, or a new one.
        trace_id: opentelemetry::trace::TraceId,
        /// A new span id.
        span_id: opentelemetry::trace::SpanId,
    },
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
    let context = span.context();
    let ids = context.span().span_context().clone();
    ids.is_sampled().then(|| ids.trace_id().to_string())
}

/// The W3C Trace Context headers (`traceparent`, and `tracestate` when
/// there is one) that continue `span`'s trace in a call it makes; none
/// when it is not exported.
pub fn outgoing_headers(span: &tracing::Span) -> Vec<(String, String)> {
    let mut headers = std::collections::HashMap::new();
    if !span.is_disabled() {
        TraceContextPropagator::new().inject_context(&span.context(), &mut headers);
    }
    headers.into_iter().collect()
}

/// Sets one attribute whose key is only known at run time (a handler's
/// own), on an exported span.
pub fn set_attribute(span: &tracing::Span, key: String, value: String) {
    span.set_attribute(key, value);
}

/// Sets OpenTelemetry attributes on an exported span without making them
/// `tracing` fields, which every log line would then repeat; a no-op on a
/// span that is not exported.
pub fn set_attributes(span: &tracing::Span, attributes: Vec<(&'static str, AttributeValue)>) {
    for (key, value) in attributes {
        match value {
            AttributeValue::Text(text) => span.set_attribute(key, text),
            AttributeValue::Int(n) => span.set_attribute(key, n),
        }
    }
}

/// Renames a span already started (a request's SERVER span, once its
/// route is known): a `otel.name` recorded after the start is not applied.
pub fn rename(span: &tracing::Span, name: String) {
    if !span.is_disabled() {
        span.context().span().update_name(name);
    }
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
