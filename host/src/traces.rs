//! Traces over OTLP, as the standard `OTEL_*` variables ask: the exporter,
//! its batch processor and the process's resource, assembled here so that
//! the host's layers (which emit `tracing` spans, see
//! `geofn_telemetry::traces`) never link an HTTP or gRPC client for it.

use std::sync::Arc;
use std::time::Duration;

use geofn_telemetry::sampler::Sampler;
use geofn_telemetry::traces::{self, TraceLayer};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::resource::{EnvResourceDetector, TelemetryResourceDetector};
use opentelemetry_sdk::trace::{BatchSpanProcessor, SpanProcessor};
use tracing::Subscriber;
use tracing_subscriber::registry::LookupSpan;

/// `service.name` when neither `OTEL_SERVICE_NAME` nor
/// `OTEL_RESOURCE_ATTRIBUTES` names one.
const DEFAULT_SERVICE_NAME: &str = "geofn";

/// How long stopping waits for the last spans to leave.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(3);

/// Whether the environment asks for traces: an OTLP endpoint
/// (`OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`)
/// or `OTEL_TRACES_EXPORTER=otlp`, and neither `OTEL_TRACES_EXPORTER=none`
/// nor `OTEL_SDK_DISABLED=true`. Unlike the SDK's default (export to
/// localhost:4318 always), nothing is set means nothing is sent: a host
/// started without a collector must not spend a thread retrying one.
fn requested(var: impl Fn(&str) -> Option<String>) -> bool {
    let set = |name: &str| var(name).is_some_and(|v| !v.trim().is_empty());
    let exporter = var("OTEL_TRACES_EXPORTER").map(|v| v.trim().to_ascii_lowercase());
    if exporter.as_deref() == Some("none")
        || var("OTEL_SDK_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
    {
        return false;
    }
    exporter.as_deref() == Some("otlp")
        || set("OTEL_EXPORTER_OTLP_ENDPOINT")
        || set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
}

/// Why traces could not be set up as the environment asks.
#[derive(Debug)]
pub struct SetupError(String);

impl std::fmt::Display for SetupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OpenTelemetry traces: {}", self.0)
    }
}

impl std::error::Error for SetupError {}

/// The running exporter: stop it with [`Tracing::shutdown`] after the
/// last request, so the spans still queued are sent.
#[derive(Debug)]
pub struct Tracing {
    processor: Arc<dyn SpanProcessor>,
}

impl Tracing {
    /// Sends what is queued (at most [`SHUTDOWN_TIMEOUT`]) and stops the
    /// export thread.
    pub fn shutdown(self) {
        traces::disable();
        if let Err(err) = self.processor.shutdown_with_timeout(SHUTDOWN_TIMEOUT) {
            tracing::warn!(error = %err, "OpenTelemetry: spans left unsent at shutdown");
        }
    }
}

/// The exporting layer and its handle when the environment asks for
/// traces (see [`requested`]), `None` otherwise. Must run inside the tokio
/// runtime: a gRPC exporter's channel lives on it.
///
/// Everything else comes from the standard variables, read by the SDK:
/// protocol (`OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL`, `http/protobuf` by
/// default, or `grpc`), headers, timeout, compression, sampler
/// (`OTEL_TRACES_SAMPLER` and `_ARG`, parent-based always-on by
/// default), batching (`OTEL_BSP_*`) and resource
/// (`OTEL_RESOURCE_ATTRIBUTES`, `OTEL_SERVICE_NAME`).
pub fn install<S>() -> Result<Option<(TraceLayer<S>, Tracing)>, SetupError>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    if !requested(|name| std::env::var(name).ok()) {
        return Ok(None);
    }
    let sampler = Sampler::from_env(|name| std::env::var(name).ok()).map_err(SetupError)?;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .build()
        .map_err(|err| SetupError(err.to_string()))?;
    // Every span that reaches the processor was sampled already (see
    // `decide`): the SDK's tracer and sampler are not in the way.
    let mut processor = BatchSpanProcessor::builder(exporter).build();
    processor.set_resource(&resource());
    let processor: Arc<dyn SpanProcessor> = Arc::new(processor);
    let layer = traces::exporting(Arc::clone(&processor), sampler);
    Ok(Some((layer, Tracing { processor })))
}

/// `service.name` is `geofn` unless the environment names the service;
/// `OTEL_RESOURCE_ATTRIBUTES` and `OTEL_SERVICE_NAME` win over ours.
fn resource() -> Resource {
    let mut builder = Resource::builder_empty()
        .with_service_name(DEFAULT_SERVICE_NAME)
        .with_attribute(opentelemetry::KeyValue::new(
            "service.version",
            env!("CARGO_PKG_VERSION"),
        ))
        .with_detectors(&[
            Box::new(TelemetryResourceDetector),
            Box::new(EnvResourceDetector::new()),
        ]);
    if let Some(name) = std::env::var("OTEL_SERVICE_NAME")
        .ok()
        .filter(|name| !name.trim().is_empty())
    {
        builder = builder.with_service_name(name);
    }
    builder.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        }
    }

    #[test]
    fn nothing_set_means_no_exporter() {
        assert!(!requested(env(&[])));
        assert!(!requested(env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", " ")])));
        assert!(!requested(env(&[("OTEL_SERVICE_NAME", "geofn")])));
    }

    #[test]
    fn an_endpoint_or_the_otlp_exporter_turns_traces_on() {
        assert!(requested(env(&[(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "http://collector:4318"
        )])));
        assert!(requested(env(&[(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "http://collector:4318/v1/traces"
        )])));
        assert!(requested(env(&[("OTEL_TRACES_EXPORTER", "otlp")])));
    }

    #[test]
    fn none_or_a_disabled_sdk_wins_over_an_endpoint() {
        let endpoint = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318");
        assert!(!requested(env(&[
            endpoint,
            ("OTEL_TRACES_EXPORTER", "none")
        ])));
        assert!(!requested(env(&[endpoint, ("OTEL_SDK_DISABLED", "TRUE")])));
        assert!(requested(env(&[endpoint, ("OTEL_SDK_DISABLED", "false")])));
    }
}
