//! The `wasi:http` hooks one request's store carries: which handler's
//! outbound calls it makes, and by when they must end.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use geofn_telemetry::traces;
use tracing::Instrument;
use tracing::field::Empty;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

use super::HandlerOutbound;

/// A request's outbound side: none for a handler that may call nothing.
pub struct OutboundHooks {
    /// The handler version's calls, pool and allow-list.
    pub outbound: Option<Arc<HandlerOutbound>>,
    /// The request's deadline: every call ends by then.
    pub deadline: Instant,
    /// Most response body bytes one call may bring in (a share of the
    /// handler's memory: `guest::max_outbound_body`).
    pub max_body: u64,
}

type Sent = Result<
    (
        http::Response<WasiBody>,
        Box<dyn Future<Output = Result<(), Error>> + Send>,
    ),
    Error,
>;

impl WasiHttpHooks for OutboundHooks {
    fn send_request(
        &mut self,
        mut request: http::Request<WasiBody>,
        _options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> Box<dyn Future<Output = Sent> + Send> {
        let outbound = self.outbound.clone();
        let deadline = self.deadline;
        let max_body = self.max_body;
        // Called inside the guest's host call: the handler's span is the
        // current one; the call itself runs on a task of its own.
        let span = client_span(&request);
        for (name, value) in traces::outgoing_headers(&span) {
            if let (Ok(name), Ok(value)) = (
                http::HeaderName::try_from(name),
                http::HeaderValue::try_from(value),
            ) {
                request.headers_mut().insert(name, value);
            }
        }
        let call = async move {
            let Some(outbound) = outbound else {
                return Err(Error::HttpRequestDenied);
            };
            let response = outbound.send(request, deadline, max_body).await?;
            let done: Box<dyn Future<Output = Result<(), Error>> + Send> =
                Box::new(async { Ok(()) });
            Ok((response, done))
        };
        Box::new(call.instrument(span))
    }
}

/// The call's CLIENT span (OpenTelemetry's HTTP client names), a child of
/// the handler's; disabled unless the request is traced. The query is left
/// out of `url.full`: it may carry keys.
fn client_span(request: &http::Request<WasiBody>) -> tracing::Span {
    let uri = request.uri();
    let method = request.method().as_str();
    let span = tracing::info_span!(
        target: traces::TARGET,
        "outbound",
        otel.name = method,
        otel.kind = "client",
        http.request.method = method,
        server.address = uri.host().unwrap_or_default(),
        server.port = Empty,
        url.full = Empty,
        http.response.status_code = Empty,
        otel.status_code = Empty,
        otel.status_description = Empty,
    );
    if !span.is_disabled() {
        if let Some(port) = uri.port_u16() {
            span.record("server.port", port);
        }
        let url = format!(
            "{}://{}{}",
            uri.scheme_str().unwrap_or("https"),
            uri.authority().map(|a| a.as_str()).unwrap_or_default(),
            uri.path()
        );
        span.record("url.full", url);
    }
    span
}
