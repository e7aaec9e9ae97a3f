//! The exporting layer: a sampled request's trace spans, recorded as they
//! happen and handed to the span processor (the OTLP batch exporter) as
//! each one closes, in OpenTelemetry's span model.
//!
//! Why not `tracing-opentelemetry`, which did this before: for every span
//! it kept an SDK span builder and a parent `Context` behind a lock,
//! turned every field into an attribute through an update list, stamped
//! an end time at every exit from a poll, and at the close built an SDK
//! span object (sampling it once more) only to turn it into the
//! [`SpanData`] the exporter takes. Always on, that was 60 µs of host CPU
//! a `GET` of three spans. Here a span is one [`Recording`] in the
//! registry's extensions, its fields land as typed attributes once, and
//! its close builds the `SpanData` directly.

use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use opentelemetry::trace::TraceState;
use opentelemetry::trace::{Event, SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_sdk::trace::{
    IdGenerator, RandomIdGenerator, SpanData, SpanEvents, SpanLinks, SpanProcessor,
};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::{LookupSpan, Registry, SpanData as _};

/// Attributes a span keeps, as the SDK's default span limits: the rest
/// are counted as dropped.
const MAX_ATTRIBUTES: usize = 128;

/// Events a span keeps, as the SDK's default span limits.
const MAX_EVENTS: usize = 128;

/// The request span's fields for its log lines: the span's own ids,
/// which the exported span already is, never attributes.
const LOG_LINE_IDS: [&str; 2] = ["trace_id", "span_id"];

/// The ids of the request span about to be made on this thread, which
/// `Decision::start` drew before making it (its log lines carry them).
#[derive(Debug, Clone)]
pub(super) struct Root {
    pub(super) trace_id: TraceId,
    pub(super) span_id: SpanId,
    /// The caller's span, invalid when the request starts a trace.
    pub(super) remote_parent: SpanId,
    pub(super) trace_state: TraceState,
}

thread_local! {
    static NEXT_ROOT: RefCell<Option<Root>> = const { RefCell::new(None) };
}

/// Makes a sampled request's span with `make`: while it runs, a request
/// span is sampled ([`root_pending`]) and takes `root`'s ids.
pub(super) fn with_root<R>(root: Root, make: impl FnOnce() -> R) -> R {
    NEXT_ROOT.with(|next| *next.borrow_mut() = Some(root));
    let made = make();
    NEXT_ROOT.with(|next| next.borrow_mut().take());
    made
}

/// Whether a request span made now belongs to a sampled request.
pub(super) fn root_pending() -> bool {
    NEXT_ROOT.with(|next| next.borrow().is_some())
}

/// One exported span while it is open.
#[derive(Debug)]
pub(super) struct Recording {
    pub(super) trace_id: TraceId,
    pub(super) span_id: SpanId,
    parent_span_id: SpanId,
    parent_is_remote: bool,
    pub(super) trace_state: TraceState,
    name: Cow<'static, str>,
    kind: SpanKind,
    start: SystemTime,
    attributes: Vec<KeyValue>,
    dropped_attributes: u32,
    events: Vec<Event>,
    dropped_events: u32,
    status: StatusCode,
    status_description: String,
}

/// `otel.status_code` as recorded; the description may come before or
/// after it, so the status is put together at the close.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StatusCode {
    Unset,
    Ok,
    Error,
}

impl Recording {
    /// Renames the span (the request span once its route is known).
    pub(super) fn rename(&mut self, name: String) {
        self.name = Cow::Owned(name);
    }

    /// Adds an attribute, within the span's limit.
    pub(super) fn push(&mut self, attribute: KeyValue) {
        if self.attributes.len() < MAX_ATTRIBUTES {
            self.attributes.push(attribute);
        } else {
            self.dropped_attributes = self.dropped_attributes.saturating_add(1);
        }
    }

    /// A text field: OpenTelemetry's `otel.*` fields set the span's own
    /// name, kind and status; `trace_id` and `span_id` are the ids the log
    /// lines carry, which the span already is; the rest are attributes.
    fn text(&mut self, key: &'static str, value: Cow<'_, str>) {
        match key {
            "otel.name" => self.name = Cow::Owned(value.into_owned()),
            "otel.kind" => self.kind = kind(&value),
            "otel.status_code" => {
                self.status = match value.to_ascii_lowercase().as_str() {
                    "error" => StatusCode::Error,
                    "ok" => StatusCode::Ok,
                    _ => StatusCode::Unset,
                }
            }
            "otel.status_description" => self.status_description = value.into_owned(),
            key if LOG_LINE_IDS.contains(&key) => {}
            _ => self.push(KeyValue::new(key, value.into_owned())),
        }
    }

    fn event(&mut self, event: Event, level: Level) {
        if level == Level::ERROR && self.status == StatusCode::Unset {
            self.status = StatusCode::Error;
        }
        if self.events.len() < MAX_EVENTS {
            self.events.push(event);
        } else {
            self.dropped_events = self.dropped_events.saturating_add(1);
        }
    }

    fn finish(self, scope: InstrumentationScope) -> SpanData {
        let status = match self.status {
            StatusCode::Unset => Status::Unset,
            StatusCode::Ok => Status::Ok,
            StatusCode::Error => Status::error(self.status_description),
        };
        let mut events = SpanEvents::default();
        events.events = self.events;
        events.dropped_count = self.dropped_events;
        SpanData {
            span_context: SpanContext::new(
                self.trace_id,
                self.span_id,
                TraceFlags::SAMPLED,
                false,
                self.trace_state,
            ),
            parent_span_id: self.parent_span_id,
            parent_span_is_remote: self.parent_is_remote,
            span_kind: self.kind,
            name: self.name,
            start_time: self.start,
            end_time: SystemTime::now(),
            attributes: self.attributes,
            dropped_attributes_count: self.dropped_attributes,
            events,
            links: SpanLinks::default(),
            status,
            instrumentation_scope: scope,
        }
    }
}

fn kind(value: &str) -> SpanKind {
    match value.to_ascii_lowercase().as_str() {
        "server" => SpanKind::Server,
        "client" => SpanKind::Client,
        "producer" => SpanKind::Producer,
        "consumer" => SpanKind::Consumer,
        _ => SpanKind::Internal,
    }
}

/// Runs `f` on the recording of `span`, when the process's subscriber is
/// a registry this layer records into and `span` is exported.
pub(super) fn with_recording<R>(
    span: &tracing::Span,
    f: impl FnOnce(&mut Recording) -> R,
) -> Option<R> {
    span.with_subscriber(|(id, dispatch)| {
        let registry = dispatch.downcast_ref::<Registry>()?;
        let data = registry.span_data(id)?;
        let mut extensions = data.extensions_mut();
        extensions.get_mut::<Recording>().map(f)
    })
    .flatten()
}

/// The `tracing` layer that exports: records the spans its filter lets
/// through and hands each to `processor` when it closes.
#[derive(Debug)]
pub struct Recorder {
    processor: Arc<dyn SpanProcessor>,
    scope: InstrumentationScope,
    ids: RandomIdGenerator,
}

impl Recorder {
    /// Spans go to `processor` under the instrumentation scope `geofn`.
    pub(super) fn new(processor: Arc<dyn SpanProcessor>) -> Self {
        Self {
            processor,
            scope: InstrumentationScope::builder("geofn").build(),
            ids: RandomIdGenerator::default(),
        }
    }
}

impl<S> Layer<S> for Recorder
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else {
            return;
        };
        let pending = NEXT_ROOT.with(|next| next.borrow_mut().take());
        let (trace_id, span_id, parent_span_id, parent_is_remote, trace_state) = match pending {
            Some(root) => (
                root.trace_id,
                root.span_id,
                root.remote_parent,
                root.remote_parent != SpanId::INVALID,
                root.trace_state,
            ),
            None => {
                let parent = span.parent().and_then(|parent| {
                    let extensions = parent.extensions();
                    let parent = extensions.get::<Recording>()?;
                    Some((parent.trace_id, parent.span_id, parent.trace_state.clone()))
                });
                match parent {
                    Some((trace_id, parent_id, state)) => {
                        (trace_id, self.ids.new_span_id(), parent_id, false, state)
                    }
                    None => (
                        self.ids.new_trace_id(),
                        self.ids.new_span_id(),
                        SpanId::INVALID,
                        false,
                        TraceState::default(),
                    ),
                }
            }
        };
        let mut recording = Recording {
            trace_id,
            span_id,
            parent_span_id,
            parent_is_remote,
            trace_state,
            name: Cow::Borrowed(attrs.metadata().name()),
            kind: SpanKind::Internal,
            start: SystemTime::now(),
            attributes: Vec::with_capacity(attrs.fields().len()),
            dropped_attributes: 0,
            events: Vec::new(),
            dropped_events: 0,
            status: StatusCode::Unset,
            status_description: String::new(),
        };
        attrs.record(&mut Fields(&mut recording));
        span.extensions_mut().insert(recording);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id)
            && let Some(recording) = span.extensions_mut().get_mut::<Recording>()
        {
            values.record(&mut Fields(recording));
        }
    }

    /// Our log lines inside an exported span become its events: a trap's
    /// reason lands on the span that trapped, and an ERROR marks it failed.
    fn on_event(&self, event: &tracing::Event<'_>, ctx: Context<'_, S>) {
        let span = match event.parent() {
            Some(parent) => ctx.span(parent),
            None if event.is_contextual() => ctx.lookup_current(),
            None => None,
        };
        let Some(span) = span else {
            return;
        };
        let meta = event.metadata();
        let mut fields = EventFields {
            message: None,
            attributes: vec![
                KeyValue::new("level", meta.level().as_str()),
                KeyValue::new("target", meta.target()),
            ],
        };
        event.record(&mut fields);
        let name = fields
            .message
            .map_or(Cow::Borrowed(meta.name()), Cow::Owned);
        let otel_event = Event::new(name, SystemTime::now(), fields.attributes, 0);
        if let Some(recording) = span.extensions_mut().get_mut::<Recording>() {
            recording.event(otel_event, *meta.level());
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else {
            return;
        };
        let recording = span.extensions_mut().remove::<Recording>();
        if let Some(recording) = recording {
            self.processor.on_end(recording.finish(self.scope.clone()));
        }
    }
}

/// A span's fields into its recording, typed as OpenTelemetry types them.
struct Fields<'r>(&'r mut Recording);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.text(field.name(), Cow::Borrowed(value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        // The log-line ids are skipped before they are formatted.
        if !LOG_LINE_IDS.contains(&field.name()) {
            self.0.text(field.name(), Cow::Owned(format!("{value:?}")));
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.push(KeyValue::new(field.name(), value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        match i64::try_from(value) {
            Ok(value) => self.0.push(KeyValue::new(field.name(), value)),
            Err(_) => self.0.push(KeyValue::new(field.name(), value.to_string())),
        }
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.push(KeyValue::new(field.name(), value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.push(KeyValue::new(field.name(), value));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.0.text(field.name(), Cow::Owned(value.to_string()));
    }
}

/// An event's `message` names it; its other fields are its attributes.
struct EventFields {
    message: Option<String>,
    attributes: Vec<KeyValue>,
}

impl Visit for EventFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.message = Some(value.to_owned()),
            name => self.attributes.push(KeyValue::new(name, value.to_owned())),
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let text = format!("{value:?}");
        match field.name() {
            "message" => self.message = Some(text),
            name => self.attributes.push(KeyValue::new(name, text)),
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.attributes.push(KeyValue::new(field.name(), value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.attributes.push(KeyValue::new(field.name(), value));
    }
}
