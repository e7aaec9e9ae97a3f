//! Everything one request's store holds, and the host imports on it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::StoreLimitsBuilder;
use wasmtime::component::{Resource, ResourceTable};

use geofn_auth::identity::Identity;
use geofn_db::handler_pools::HandlerConnections;
use geofn_db::session::{DbSession, ReadPlan};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::bindings::geofn::handler::{identity, log, route, trace, types};
use crate::bindings::{Level, Matched};
use crate::guest_spans::{GuestSpan, GuestSpans};
use crate::limits::Limits;
use crate::memory_watch::WatchedLimits;
use crate::outbound::HandlerOutbound;
use crate::outbound::hooks::OutboundHooks;
use crate::text::truncate;
use crate::variables::HandlerVariables;

/// Bytes of a guest's stderr kept for the log (Rust panics print there).
pub const STDERR_CAPTURE_BYTES: usize = 16 << 10;
/// Longest guest log message passed on; longer ones are cut.
pub const MAX_LOG_MESSAGE_BYTES: usize = 4 << 10;

/// Most bytes of one outbound answer's body a handler gets: a quarter of
/// its memory, so that reading it whole (a growing buffer doubles) still
/// leaves it room to work; more is an error to the handler, not a trap.
pub fn max_outbound_body(limits: &Limits) -> u64 {
    limits.memory_bytes as u64 / 4
}

/// The data of one request's store.
pub struct GuestState {
    wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) limits: WatchedLimits,
    pub(crate) db: DbSession,
    /// Most bytes of rows one statement may bring in: the handler's memory.
    result_cap: usize,
    pub(crate) handler: Arc<str>,
    route: Matched,
    /// Who is calling, as the host verified it (none: anonymous).
    caller: Option<Arc<Identity>>,
    stderr: MemoryOutputPipe,
    /// The guest's own trace spans.
    spans: GuestSpans,
    /// What it reads through `wasi:config/store`, and the secrets kept out
    /// of everything the host writes.
    pub(crate) variables: Arc<HandlerVariables>,
    http: WasiHttpCtx,
    /// Its outbound calls: where they may go, by when.
    outbound: OutboundHooks,
    /// How long it has waited on its database calls, in all its requests:
    /// time its CPU throttle does not charge.
    pub(crate) db_waited: Duration,
}

/// What one request brings to the instance that serves it.
pub struct RequestScope {
    /// Where its reads go.
    pub reads: ReadPlan,
    /// The route it matched.
    pub route: Matched,
    /// Its verified caller, if any.
    pub identity: Option<Arc<Identity>>,
    /// The version's variables.
    pub variables: Arc<HandlerVariables>,
    /// The version's outbound calls; none when it may call nothing.
    pub outbound: Option<Arc<HandlerOutbound>>,
    /// When the request must be answered: outbound calls end by then.
    pub deadline: Instant,
}

impl GuestState {
    /// State for one call of `handler`: WASI with no files, sockets,
    /// environment or arguments; stderr captured for the log; the database
    /// through `db`, reads where `reads` says.
    pub fn new(
        handler: Arc<str>,
        limits: &Limits,
        db: &HandlerConnections,
        request: RequestScope,
    ) -> Self {
        let stderr = MemoryOutputPipe::new(STDERR_CAPTURE_BYTES);
        let wasi = WasiCtx::builder().stderr(stderr.clone()).build();
        let claims = request
            .identity
            .as_ref()
            .map(|caller| caller.claims.clone());
        Self {
            wasi,
            table: ResourceTable::new(),
            limits: WatchedLimits::new(
                StoreLimitsBuilder::new()
                    .memory_size(limits.memory_bytes)
                    .instances(limits.instances)
                    .tables(limits.tables)
                    .table_elements(limits.table_elements)
                    .build(),
            ),
            db: DbSession::new(db, request.reads)
                .capped(limits.memory_bytes)
                .with_claims(claims),
            result_cap: limits.memory_bytes,
            handler,
            route: request.route,
            caller: request.identity,
            stderr,
            spans: GuestSpans::default(),
            variables: request.variables,
            http: WasiHttpCtx::new(),
            outbound: OutboundHooks {
                outbound: request.outbound,
                deadline: request.deadline,
                max_body: max_outbound_body(limits),
            },
            db_waited: Duration::ZERO,
        }
    }

    /// How long the guest has waited on its database calls so far.
    pub fn db_waited(&self) -> Duration {
        self.db_waited
    }

    /// The request's database session.
    pub fn db(&mut self) -> &mut DbSession {
        &mut self.db
    }

    /// Readies a kept instance for its next request: a database session
    /// and route of that request's own.
    pub fn begin_request(&mut self, db: &HandlerConnections, request: RequestScope) {
        let claims = request
            .identity
            .as_ref()
            .map(|caller| caller.claims.clone());
        self.db = DbSession::new(db, request.reads)
            .capped(self.result_cap)
            .with_claims(claims);
        self.route = request.route;
        self.caller = request.identity;
        self.variables = request.variables;
        self.outbound.outbound = request.outbound;
        self.outbound.deadline = request.deadline;
    }

    /// Ends a request on an instance that is kept: its session gives its
    /// connections back (or has them reset) now.
    pub fn end_request(&mut self, db: &HandlerConnections) {
        self.db = DbSession::new(db, ReadPlan::default());
        self.caller = None;
        self.spans.end_request(&mut self.table);
    }

    /// What the guest wrote to stderr, lossily decoded, secrets out.
    pub fn stderr(&self) -> String {
        let written = String::from_utf8_lossy(&self.stderr.contents()).into_owned();
        self.variables.redact(&written).into_owned()
    }
}

impl WasiView for GuestState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for GuestState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.outbound,
        }
    }
}

impl types::Host for GuestState {}

impl identity::Host for GuestState {
    async fn current(&mut self) -> Option<identity::Caller> {
        self.caller.as_ref().map(|caller| identity::Caller {
            subject: caller.subject.clone(),
            scopes: caller.scopes.clone(),
            claims: caller.claims.to_string(),
        })
    }
}

impl route::Host for GuestState {
    async fn current(&mut self) -> Matched {
        self.route.clone()
    }
}

impl trace::Host for GuestState {}

impl trace::HostSpan for GuestState {
    async fn new(&mut self, name: String) -> wasmtime::Result<Resource<GuestSpan>> {
        self.spans
            .start(&mut self.table, &self.variables.redact(&name))
    }

    async fn set_attribute(
        &mut self,
        span: Resource<GuestSpan>,
        key: String,
        value: String,
    ) -> wasmtime::Result<()> {
        let redact = |text| self.variables.redact(text);
        GuestSpans::set_attribute(&mut self.table, &span, &redact(&key), &redact(&value))
    }

    async fn set_error(
        &mut self,
        span: Resource<GuestSpan>,
        message: String,
    ) -> wasmtime::Result<()> {
        GuestSpans::set_error(&mut self.table, &span, &self.variables.redact(&message))
    }

    async fn drop(&mut self, span: Resource<GuestSpan>) -> wasmtime::Result<()> {
        self.spans.end(&mut self.table, span)
    }
}

impl log::Host for GuestState {
    async fn log(&mut self, level: Level, message: String) {
        let message = self.variables.redact(&message);
        let message = truncate(&message, MAX_LOG_MESSAGE_BYTES);
        let handler = &*self.handler;
        match level {
            Level::Trace => tracing::trace!(handler.name = handler, guest.log = true, "{message}"),
            Level::Debug => tracing::debug!(handler.name = handler, guest.log = true, "{message}"),
            Level::Info => tracing::info!(handler.name = handler, guest.log = true, "{message}"),
            Level::Warn => tracing::warn!(handler.name = handler, guest.log = true, "{message}"),
            Level::Error => tracing::error!(handler.name = handler, guest.log = true, "{message}"),
        }
    }
}
