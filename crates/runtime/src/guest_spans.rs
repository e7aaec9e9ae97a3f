//! The host side of a guest's `trace.span` resource: spans of the
//! handler's own, as `tracing` spans under the handler call's span, so
//! they reach OpenTelemetry exactly when the request is sampled (see
//! `geofn_telemetry::traces`).

use tracing::field::Empty;
use wasmtime::component::{Resource, ResourceTable};

use geofn_telemetry::traces;

use crate::text::truncate;

/// Spans one request may start; more are no-ops.
pub const MAX_SPANS_PER_REQUEST: u32 = 32;
/// Attributes one span may carry; more are dropped.
pub const MAX_ATTRIBUTES_PER_SPAN: u32 = 16;
/// Longest name or attribute key kept.
pub const MAX_NAME_BYTES: usize = 128;
/// Longest attribute value or error message kept.
pub const MAX_VALUE_BYTES: usize = 1024;
/// Spans a guest may hold open at once (no-ops included): past it, a
/// guest that never drops its spans traps instead of growing the host's
/// table without end.
pub const MAX_OPEN_SPANS: usize = 256;

/// One span the guest holds: the `tracing` span (disabled when the request
/// is not traced or the budget is spent) and how many attributes it has.
pub struct GuestSpan {
    span: tracing::Span,
    attributes: u32,
}

/// The spans of the request running on an instance.
#[derive(Default)]
pub struct GuestSpans {
    /// Spans started in this request.
    started: u32,
    /// The guest's spans still open, innermost last: the parent of the next.
    open: Vec<u32>,
}

impl GuestSpans {
    /// Starts `name` under the innermost open span (else the current span:
    /// the handler call's).
    pub fn start(
        &mut self,
        table: &mut ResourceTable,
        name: &str,
    ) -> wasmtime::Result<Resource<GuestSpan>> {
        if self.open.len() >= MAX_OPEN_SPANS {
            return Err(wasmtime::Error::msg(format!(
                "more than {MAX_OPEN_SPANS} trace spans open at once"
            )));
        }
        self.started = self.started.saturating_add(1);
        let parent = self
            .open
            .last()
            .and_then(|rep| table.get(&Resource::<GuestSpan>::new_borrow(*rep)).ok())
            .map(|open| open.span.clone())
            .unwrap_or_else(tracing::Span::current);
        let span = if self.started > MAX_SPANS_PER_REQUEST || parent.is_disabled() {
            tracing::Span::none()
        } else {
            tracing::info_span!(
                target: traces::TARGET,
                parent: &parent,
                "guest",
                otel.name = truncate(name, MAX_NAME_BYTES),
                otel.status_code = Empty,
                otel.status_description = Empty,
            )
        };
        let handle = table.push(GuestSpan {
            span,
            attributes: 0,
        })?;
        self.open.push(handle.rep());
        Ok(handle)
    }

    /// Sets `key` on the span `handle` names.
    pub fn set_attribute(
        table: &mut ResourceTable,
        handle: &Resource<GuestSpan>,
        key: &str,
        value: &str,
    ) -> wasmtime::Result<()> {
        let guest = table.get_mut(handle)?;
        if guest.span.is_disabled() || guest.attributes >= MAX_ATTRIBUTES_PER_SPAN {
            return Ok(());
        }
        guest.attributes += 1;
        traces::set_attribute(
            &guest.span,
            truncate(key, MAX_NAME_BYTES).to_owned(),
            truncate(value, MAX_VALUE_BYTES).to_owned(),
        );
        Ok(())
    }

    /// Marks the span `handle` names as failed.
    pub fn set_error(
        table: &mut ResourceTable,
        handle: &Resource<GuestSpan>,
        message: &str,
    ) -> wasmtime::Result<()> {
        let guest = table.get(handle)?;
        guest.span.record("otel.status_code", "error");
        guest.span.record(
            "otel.status_description",
            truncate(message, MAX_VALUE_BYTES),
        );
        Ok(())
    }

    /// Ends the span `handle` names.
    pub fn end(
        &mut self,
        table: &mut ResourceTable,
        handle: Resource<GuestSpan>,
    ) -> wasmtime::Result<()> {
        let rep = handle.rep();
        self.open.retain(|open| *open != rep);
        table.delete(handle)?;
        Ok(())
    }

    /// Ends every span still open: the request is over.
    pub fn end_request(&mut self, table: &mut ResourceTable) {
        for rep in self.open.drain(..) {
            let _ = table.delete(Resource::<GuestSpan>::new_own(rep));
        }
        self.started = 0;
    }
}
