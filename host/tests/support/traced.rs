//! Hosts exporting traces to a test's receiver, and what the tests ask
//! of the spans they get.

use std::path::Path;

use super::otlp::{Receiver, Span};
use super::{Host, TestDb};

/// The caller's trace: what a proxy or client in front sends.
pub const CALLER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

/// The batch processor's thread, as `/proc/PID/task/*/comm` shows it.
pub const EXPORT_THREAD: &str = "OpenTelemetry.T";

pub fn traceparent(parent_span: &str) -> String {
    format!("00-{CALLER_TRACE}-{parent_span}-01")
}

pub async fn traced_host(db: &TestDb, dir: &Path, receiver: &Receiver) -> Host {
    traced_host_with(db, dir, &receiver.endpoint(), &[]).await
}

/// A host exporting to `endpoint`, batches sent every 100 ms, with `extra`
/// environment.
pub async fn traced_host_with(
    db: &TestDb,
    dir: &Path,
    endpoint: &str,
    extra: &[(&str, &str)],
) -> Host {
    let mut command = Host::serve_command(db, dir);
    command
        .args(["--listen", "127.0.0.1:0"])
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .envs(extra.iter().copied());
    Host::spawn(command).await
}

pub fn one<'a>(spans: &'a [Span], what: &str, pick: impl Fn(&Span) -> bool) -> &'a Span {
    let found: Vec<&Span> = spans.iter().filter(|span| pick(span)).collect();
    assert_eq!(found.len(), 1, "one {what} among {spans:#?}");
    found[0]
}
