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

use std::cell::Cell;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{IdGenerator, RandomIdGenerator, SpanData, SpanProcessor};
use tracing::level_filters::LevelFilter;
use tracing::subscriber::Interest;
use tracing::{Metadata, Subscriber};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::filter::{self, DynFilterFn, Filtered};
use tracing_subscriber::layer::{self, Layer};
use tracing_subscriber::registry::LookupSpan;

use crate::sampler::Sampler;

/// The `tracing` target of every span meant for traces (admission, the
/// handler call, database calls). INFO, like the log lines, so the
/// process's maximum level stays INFO (below it, every DEBUG line of
/// tokio-postgres and wasmtime would be formatted into an event just to be
/// filtered); the log lines' filter turns this target off
/// ([`LOG_LINES_SKIP`]), so with no exporter the spans are disabled at
/// their call sites.
pub const TARGET: &str = "geofn::trace";

/// The directive the log lines' filter adds: trace spans are not log
/// context.
pub const LOG_LINES_SKIP: &str = "geofn::trace=off";

/// The directive the log lines' filter adds whatever `RUST_LOG` says:
/// tokio-postgres writes every statement's parameter values at DEBUG, and
/// those are the clients' data and the handlers' secrets, never log lines.
pub const PARAMETER_LINES_SKIP: &str = "tokio_postgres::query=info";

/// The `tracing` target of a request's SERVER span when traces are
/// exported: the span the sampling decision is made for.
pub const REQUEST_TARGET: &str = "geofn::request";

thread_local! {
    /// The decision for the request span about to be created on this
    /// thread ([`Decision::start`]), read by the exporting layer's filter.
    static SAMPLE_NEXT: Cell<bool> = const { Cell::new(false) };
}

/// The sampler the environment names, applied once per request before
/// any span exists (see [`decide`]).
static SAMPLER: OnceLock<Sampler> = OnceLock::new();

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Whether spans are exported: the HTTP face continues callers' traces
/// and records the server span's attributes only then.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// The exporting layer's filter: see [`sampled_only`].
type SampledOnly<S> = DynFilterFn<
    S,
    fn(&Metadata<'_>, &layer::Context<'_, S>) -> bool,
    fn(&'static Metadata<'static>) -> Interest,
>;

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

/// Turns off, where they are made, the trace spans of a request that is
/// not sampled. The per-layer filter ([`sampled_only`]) only keeps such a
/// span from the exporter: tracing-subscriber still builds a span every
/// per-layer filter refused (its registry asks whether *any* of 64 filter
/// slots enabled it), so without this gate an unsampled request's spans
/// were live, and the attributes computed for live spans only (a query's
/// summary and masked text, a rendered page's rows counted) cost a 1%
/// sampled host 12 us a listing. A global filter's "no" disables the span.
#[derive(Debug, Clone, Copy)]
pub struct UnsampledOff;

impl<S> Layer<S> for UnsampledOff
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        if is_trace_span(meta) {
            Interest::sometimes()
        } else {
            Interest::always()
        }
    }

    fn enabled(&self, meta: &Metadata<'_>, cx: layer::Context<'_, S>) -> bool {
        !is_trace_span(meta) || in_sampled_request(&cx)
    }

    /// This gate enables nothing of its own: the other layers' levels
    /// decide the process's maximum (no hint would mean TRACE).
    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(LevelFilter::OFF)
    }
}

fn is_trace_span(meta: &Metadata<'_>) -> bool {
    meta.is_span() && meta.target() == TARGET
}

/// Whether the innermost trace or request span around the current one
/// belongs to a sampled request: a trace span only exists inside one, and
/// a request span is sampled when it was made with `otel.kind`.
fn in_sampled_request<S>(cx: &layer::Context<'_, S>) -> bool
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    let Some(current) = cx.lookup_current() else {
        return false;
    };
    for span in current.scope() {
        let meta = span.metadata();
        if meta.target() == TARGET {
            return true;
        }
        if meta.target() == REQUEST_TARGET {
            return meta.fields().field("otel.kind").is_some();
        }
    }
    false
}

/// Stops deciding and recording for traces: the exporter is shutting down.
pub fn disable() {
    ENABLED.store(false, Ordering::Relaxed);
}

/// What the exporting layer sees: a request's span when [`decide`]
/// sampled it, our trace spans inside a sampled request, and our own log
/// events (INFO and above) inside one, which become span events (a trap's
/// reason lands on the span that trapped). An unsampled request costs a
/// thread-local read and a lookup of the current span per call site, not
/// an OpenTelemetry span each; nothing of the HTTP and gRPC clients', which
/// would trace the exporter.
fn sampled_only<S>() -> SampledOnly<S>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    fn enabled<S>(meta: &Metadata<'_>, cx: &layer::Context<'_, S>) -> bool
    where
        S: Subscriber + for<'span> LookupSpan<'span>,
    {
        if meta.target() == REQUEST_TARGET {
            return SAMPLE_NEXT.with(Cell::get);
        }
        // Our spans and events, only under a span this layer exports. The
        // check is repeated here: a call site other layers enable reaches
        // this function whatever `interest` said (tokio-postgres' DEBUG
        // lines name statement parameters).
        ours(meta) && cx.lookup_current().is_some()
    }
    fn ours(meta: &Metadata<'_>) -> bool {
        let span = meta.is_span() && meta.target() == TARGET;
        let event = meta.is_event()
            && meta.target().starts_with("geofn")
            && *meta.level() <= tracing::Level::INFO;
        span || event
    }
    fn interest(meta: &'static Metadata<'static>) -> Interest {
        if meta.target() == REQUEST_TARGET || ours(meta) {
            Interest::sometimes()
        } else {
            Interest::never()
        }
    }
    filter::dynamic_filter_fn(enabled::<S> as fn(&Metadata<'_>, &layer::Context<'_, S>) -> bool)
        .with_max_level_hint(LevelFilter::INFO)
        .with_callsite_filter(interest as fn(&'static Metadata<'static>) -> Interest)
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

/// A span processor that drops the `trace_id` and `span_id` attributes
/// before `P` (the batch exporter) sees a span. A sampled request span
/// records them as fields for its log lines, and `tracing-opentelemetry`
/// makes every field an attribute: the SERVER span repeated its own ids
/// as text. The `tracing` layer cannot be told to skip two fields.
#[derive(Debug)]
pub struct WithoutLogIds<P>(pub P);

impl<P: SpanProcessor> SpanProcessor for WithoutLogIds<P> {
    fn on_start(&self, span: &mut opentelemetry_sdk::trace::Span, cx: &opentelemetry::Context) {
        self.0.on_start(span, cx);
    }

    fn on_end(&self, mut span: SpanData) {
        span.attributes
            .retain(|kv| !matches!(kv.key.as_str(), "trace_id" | "span_id"));
        self.0.on_end(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: std::time::Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        self.0.set_resource(resource);
    }
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
    span.metadata().is_some_and(|meta| {
        meta.target() == REQUEST_TARGET && meta.fields().field("otel.kind").is_some()
    })
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
