//! Outbound HTTP for handlers (`wasi:http/outgoing-handler`), denied by
//! default: a call goes out only to an origin the handler's allow-list
//! names, to an address the host vetted itself ([`connect`]), within the
//! request's deadline, with its response body capped at the handler's
//! memory and its calls in flight capped per handler. Redirects are not
//! followed: the handler gets the 3xx, and a request for its `Location` is
//! checked like any other. Connections are pooled per handler version.
//!
//! - [`vet`]: which addresses are public.
//! - [`connect`]: resolve once, vet, connect to what was vetted.
//! - `body`: the response body, capped.
//! - [`hooks`]: the `wasi:http` hooks a request's store carries.
//! - [`tls`]: the system's roots and the operator's CA bundle.

pub mod connect;
pub mod hooks;
pub mod tls;
pub mod vet;

mod body;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use geofn_contract::outbound::{AllowedHost, OutboundPolicy, check, default_port};
use geofn_telemetry::metrics::{OUTBOUND_DURATION, OUTBOUND_REQUESTS, status_class};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::sync::Semaphore;
use wasmtime_wasi_http::{Error, WasiBody};

use self::body::CappedBody;
use self::connect::{ConnectError, VettingConnector, system_resolver};

/// Calls of one handler in flight at once, unless its limits say.
pub const DEFAULT_MAX_OUTBOUND: usize = 16;
/// Longest wait for a connection to one address.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Idle pooled connections kept per origin, unless the operator says.
pub const DEFAULT_IDLE_PER_HOST: usize = 8;

/// What every handler's outbound calls share: set by the operator.
#[derive(Clone)]
pub struct OutboundSettings {
    /// TLS: the system's roots and the operator's CA bundle ([`tls`]).
    pub tls: Arc<rustls::ClientConfig>,
    /// Idle connections kept per origin and handler version; 0: a new
    /// connection for every call (for upstreams that mishandle keep-alive).
    pub idle_per_host: usize,
}

/// One handler version's outbound calls: its allow-list, its connection
/// pool, its cap on calls in flight.
pub struct HandlerOutbound {
    handler: Arc<str>,
    allowed: Vec<(String, AllowedHost)>,
    client: Client<HttpsConnector<VettingConnector>, WasiBody>,
    in_flight: Arc<Semaphore>,
}

impl HandlerOutbound {
    /// Outbound calls for `handler` under `policy`, with the operator's
    /// `settings`.
    pub fn new(
        handler: Arc<str>,
        policy: &OutboundPolicy,
        settings: &OutboundSettings,
        max_in_flight: usize,
    ) -> Self {
        let allowed = policy.parsed();
        let exact: HashSet<String> = allowed
            .iter()
            .filter(|(_, host)| !host.wildcard)
            .map(|(_, host)| host.host.clone())
            .collect();
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config((*settings.tls).clone())
            .https_or_http()
            .enable_http1()
            .wrap_connector(VettingConnector::new(
                exact,
                CONNECT_TIMEOUT,
                system_resolver(),
            ));
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(settings.idle_per_host)
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Self {
            handler,
            allowed,
            client,
            in_flight: Arc::new(Semaphore::new(max_in_flight.max(1))),
        }
    }

    /// Whether the allow-list is empty: then the handler can call nothing.
    pub fn denies_all(&self) -> bool {
        self.allowed.is_empty()
    }

    /// Sends `request` if its origin is allowed, by `deadline`, its
    /// response body capped at `max_body` bytes.
    pub async fn send(
        &self,
        request: http::Request<WasiBody>,
        deadline: Instant,
        max_body: u64,
    ) -> Result<http::Response<WasiBody>, Error> {
        let uri = request.uri();
        let scheme = uri.scheme_str().unwrap_or_default().to_ascii_lowercase();
        let host = uri.host().unwrap_or_default().to_ascii_lowercase();
        let port = uri
            .port_u16()
            .or_else(|| default_port(&scheme))
            .unwrap_or(0);
        let Some(allowed) = check(&self.allowed, &scheme, &host, port) else {
            let span = tracing::Span::current();
            span.record("otel.status_code", "error");
            span.record("otel.status_description", "denied: not on the allow-list");
            self.count("denied", "denied");
            tracing::warn!(
                handler.name = &*self.handler,
                outbound.origin = %format_args!("{scheme}://{host}:{port}"),
                "outbound call denied: not on the handler's allow-list"
            );
            return Err(Error::HttpRequestDenied);
        };
        let started = Instant::now();
        let sent = tokio::time::timeout_at(deadline.into(), async {
            let permit = self
                .in_flight
                .clone()
                .acquire_owned()
                .await
                .map_err(|_| Error::ConnectionLimitReached)?;
            let response = self.client.request(request).await.map_err(client_error)?;
            Ok::<_, Error>((response, permit))
        })
        .await;
        let span = tracing::Span::current();
        let (response, permit) = match sent {
            Ok(Ok(sent)) => sent,
            Ok(Err(err)) => {
                span.record("otel.status_code", "error");
                span.record("otel.status_description", tracing::field::display(&err));
                self.count(&allowed.entry, "error");
                tracing::warn!(handler.name = &*self.handler, outbound.host = %allowed.entry, error = %err, "outbound call failed");
                return Err(err);
            }
            Err(_) => {
                span.record("otel.status_code", "error");
                span.record("otel.status_description", "past the request's deadline");
                self.count(&allowed.entry, "timeout");
                return Err(Error::ConnectionTimeout);
            }
        };
        let status = response.status();
        span.record("http.response.status_code", status.as_u16());
        if status.is_server_error() {
            span.record("otel.status_code", "error");
        }
        metrics::histogram!(OUTBOUND_DURATION, "handler" => self.handler.clone(), "host" => allowed.entry.clone())
            .record(started.elapsed().as_secs_f64());
        self.count(&allowed.entry, status_class(status.as_u16()));
        let announced = response
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if announced.is_some_and(|length| length > max_body) {
            return Err(Error::HttpResponseBodySize(announced));
        }
        Ok(response.map(|incoming| CappedBody::new(incoming, max_body, permit).boxed()))
    }

    fn count(&self, host: &str, outcome: &'static str) {
        metrics::counter!(OUTBOUND_REQUESTS, "handler" => self.handler.clone(), "host" => host.to_owned(), "outcome" => outcome)
            .increment(1);
    }
}

/// The client's error as `wasi:http` names it.
fn client_error(err: hyper_util::client::legacy::Error) -> Error {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&err);
    while let Some(cause) = source {
        if let Some(connect) = cause.downcast_ref::<ConnectError>() {
            return match connect {
                ConnectError::Dns { .. } => Error::DnsError {
                    rcode: Some(connect.to_string()),
                    info_code: None,
                },
                ConnectError::Prohibited { .. } => Error::DestinationIpProhibited,
                ConnectError::Connect { source, .. }
                    if source.kind() == std::io::ErrorKind::TimedOut =>
                {
                    Error::ConnectionTimeout
                }
                ConnectError::Connect { .. } => Error::ConnectionRefused,
            };
        }
        source = cause.source();
    }
    if err.is_connect() {
        // TLS fails inside the connector too.
        return Error::TlsProtocolError;
    }
    Error::InternalError(Some(err.to_string()))
}
