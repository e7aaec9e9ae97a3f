//! Spans of the handler's own in the request's trace: where its time went
//! between the host's spans (the handler call, each statement).
//!
//! ```ignore
//! let span = geofn_sdk::trace::span("render features");
//! span.set_attribute("features", &count.to_string());
//! // ... ends when `span` is dropped
//! ```
//!
//! A span started while another of the handler's is alive is its child.
//! When traces are off or the request is not sampled this costs a host
//! call and records nothing; past 32 spans a request, spans are no-ops.

use crate::bindings::geofn::handler::trace as wit;

/// A span of the handler's own, ended when dropped.
pub struct Span(wit::Span);

/// Starts a span named `name` now.
pub fn span(name: &str) -> Span {
    Span(wit::Span::new(name))
}

impl Span {
    /// Sets an attribute (at most 16 a span; a later value replaces).
    pub fn set_attribute(&self, key: &str, value: &str) {
        self.0.set_attribute(key, value);
    }

    /// Marks the span as failed, with why.
    pub fn set_error(&self, message: &str) {
        self.0.set_error(message);
    }
}

/// Runs `work` inside a span named `name`.
pub fn in_span<T>(name: &str, work: impl FnOnce(&Span) -> T) -> T {
    let span = span(name);
    work(&span)
}
