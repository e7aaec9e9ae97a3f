//! The `tracing` targets traces are made of, and the log filter's
//! directives that keep them out of the log lines.

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

/// Whether `meta` is a sampled request's span: [`Decision::start`] makes
/// one with an `otel.kind` field, an unsampled one without.
///
/// [`Decision::start`]: super::Decision::start
pub(super) fn is_sampled_request(meta: &tracing::Metadata<'_>) -> bool {
    meta.target() == REQUEST_TARGET && meta.fields().field("otel.kind").is_some()
}
