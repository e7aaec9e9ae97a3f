//! What of a request reaches the exporter: the spans of sampled requests
//! only, built only there.

use tracing::level_filters::LevelFilter;
use tracing::subscriber::Interest;
use tracing::{Metadata, Subscriber};
use tracing_subscriber::filter::{self, DynFilterFn};
use tracing_subscriber::layer::{self, Layer};
use tracing_subscriber::registry::LookupSpan;

use super::recorder::root_pending;
use super::targets::{REQUEST_TARGET, TARGET, is_sampled_request};

/// The exporting layer's filter: see [`sampled_only`].
pub(super) type SampledOnly<S> = DynFilterFn<
    S,
    fn(&Metadata<'_>, &layer::Context<'_, S>) -> bool,
    fn(&'static Metadata<'static>) -> Interest,
>;

/// Turns off, where they are made, the trace spans of a request that is
/// not sampled. The per-layer filter (`sampled_only`) only keeps such a
/// span from the exporter: tracing-subscriber still builds a span every
/// per-layer filter refused (its registry asks whether *any* of 64 filter
/// slots enabled it), so without this gate an unsampled request's spans
/// were live, and the attributes computed for live spans only (a query's
/// summary and masked text, a rendered page's rows counted) cost a 1%
/// sampled host 11 µs a listing. A global filter's "no" disables the span.
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
/// a request span says whether it was sampled.
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
            return is_sampled_request(meta);
        }
    }
    false
}

/// What the exporting layer sees: a request's span when `decide`
/// sampled it, our trace spans inside a sampled request, and our own log
/// events (INFO and above) inside one, which become span events (a trap's
/// reason lands on the span that trapped). An unsampled request costs a
/// thread-local read and a lookup of the current span per call site, not
/// an OpenTelemetry span each; nothing of the HTTP and gRPC clients', which
/// would trace the exporter.
pub(super) fn sampled_only<S>() -> SampledOnly<S>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    fn enabled<S>(meta: &Metadata<'_>, cx: &layer::Context<'_, S>) -> bool
    where
        S: Subscriber + for<'span> LookupSpan<'span>,
    {
        if meta.target() == REQUEST_TARGET {
            return root_pending();
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
