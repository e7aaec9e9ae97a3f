//! Everything one request's store holds, and the host imports on it.

use std::sync::Arc;

use wasmtime::StoreLimitsBuilder;
use wasmtime::component::{Resource, ResourceTable};

use geofn_auth::identity::Identity;
use geofn_db::handler_pools::HandlerConnections;
use geofn_db::session::{DbSession, Lane, ReadPlan};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::bindings::geofn::handler::{db, identity, log, route, trace, types};
use crate::bindings::{DbError, Level, Matched, PackedRows, Rows, Value};
use crate::db_call::DbCall;
use crate::db_values;
use crate::guest_spans::{GuestSpan, GuestSpans};
use crate::limits::Limits;
use crate::memory_watch::WatchedLimits;
use crate::text::truncate;
use crate::transaction::Transaction;

/// Bytes of a guest's stderr kept for the log (Rust panics print there).
pub const STDERR_CAPTURE_BYTES: usize = 16 << 10;
/// Longest guest log message passed on; longer ones are cut.
pub const MAX_LOG_MESSAGE_BYTES: usize = 4 << 10;

/// The data of one request's store.
pub struct GuestState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limits: WatchedLimits,
    db: DbSession,
    /// Most bytes of rows one statement may bring in: the handler's memory.
    result_cap: usize,
    handler: Arc<str>,
    route: Matched,
    /// Who is calling, as the host verified it (none: anonymous).
    caller: Option<Arc<Identity>>,
    stderr: MemoryOutputPipe,
    /// The guest's own trace spans.
    spans: GuestSpans,
}

/// What one request brings to the instance that serves it.
pub struct RequestScope {
    /// Where its reads go.
    pub reads: ReadPlan,
    /// The route it matched.
    pub route: Matched,
    /// Its verified caller, if any.
    pub identity: Option<Arc<Identity>>,
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
        }
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
    }

    /// Ends a request on an instance that is kept: its session gives its
    /// connections back (or has them reset) now.
    pub fn end_request(&mut self, db: &HandlerConnections) {
        self.db = DbSession::new(db, ReadPlan::default());
        self.caller = None;
        self.spans.end_request(&mut self.table);
    }

    /// What the guest wrote to stderr, lossily decoded.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.contents()).into_owned()
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

impl types::Host for GuestState {}

impl db::Host for GuestState {
    async fn query(&mut self, sql: String, params: Vec<Value>) -> Result<Rows, DbError> {
        let call = DbCall::start(&sql);
        let result = self
            .db
            .query(Lane::Autocommit, &sql, db_values::params(params))
            .await
            .map(db_values::rows)
            .map_err(db_values::error);
        call.finish(&self.handler, "query", &sql, &mut self.db, result.as_ref());
        result
    }

    async fn query_packed(
        &mut self,
        sql: String,
        params: Vec<Value>,
    ) -> Result<PackedRows, DbError> {
        let call = DbCall::start(&sql);
        let result = self
            .db
            .query_packed(Lane::Autocommit, &sql, db_values::params(params))
            .await
            .map(db_values::packed)
            .map_err(db_values::error);
        call.finish(&self.handler, "query", &sql, &mut self.db, result.as_ref());
        result
    }

    async fn query_json(&mut self, sql: String, params: Vec<Value>) -> Result<Vec<u8>, DbError> {
        let call = DbCall::start(&sql);
        let result = self
            .db
            .query_json(Lane::Autocommit, &sql, db_values::params(params))
            .await
            .map_err(db_values::error);
        call.finish(&self.handler, "query", &sql, &mut self.db, result.as_ref());
        result
    }

    async fn execute(&mut self, sql: String, params: Vec<Value>) -> Result<u64, DbError> {
        let call = DbCall::start(&sql);
        let result = self
            .db
            .execute(Lane::Autocommit, &sql, db_values::params(params))
            .await
            .map_err(db_values::error);
        call.finish(
            &self.handler,
            "execute",
            &sql,
            &mut self.db,
            result.as_ref(),
        );
        result
    }

    async fn begin(&mut self) -> Result<Resource<Transaction>, DbError> {
        let call = DbCall::start("BEGIN");
        let result = self.db.begin().await.map_err(db_values::error);
        call.finish(
            &self.handler,
            "begin",
            "BEGIN",
            &mut self.db,
            result.as_ref(),
        );
        result?;
        self.table.push(Transaction).map_err(|e| {
            DbError::Unavailable(format!("no room for another resource in this request: {e}"))
        })
    }

    async fn use_primary(&mut self) {
        self.db.use_primary();
    }
}

impl db::HostTransaction for GuestState {
    async fn query(
        &mut self,
        _tx: Resource<Transaction>,
        sql: String,
        params: Vec<Value>,
    ) -> Result<Rows, DbError> {
        let call = DbCall::start(&sql);
        let result = self
            .db
            .query(Lane::Transaction, &sql, db_values::params(params))
            .await
            .map(db_values::rows)
            .map_err(db_values::error);
        call.finish(&self.handler, "query", &sql, &mut self.db, result.as_ref());
        result
    }

    async fn query_packed(
        &mut self,
        _tx: Resource<Transaction>,
        sql: String,
        params: Vec<Value>,
    ) -> Result<PackedRows, DbError> {
        let call = DbCall::start(&sql);
        let result = self
            .db
            .query_packed(Lane::Transaction, &sql, db_values::params(params))
            .await
            .map(db_values::packed)
            .map_err(db_values::error);
        call.finish(&self.handler, "query", &sql, &mut self.db, result.as_ref());
        result
    }

    async fn query_json(
        &mut self,
        _tx: Resource<Transaction>,
        sql: String,
        params: Vec<Value>,
    ) -> Result<Vec<u8>, DbError> {
        let call = DbCall::start(&sql);
        let result = self
            .db
            .query_json(Lane::Transaction, &sql, db_values::params(params))
            .await
            .map_err(db_values::error);
        call.finish(&self.handler, "query", &sql, &mut self.db, result.as_ref());
        result
    }

    async fn execute(
        &mut self,
        _tx: Resource<Transaction>,
        sql: String,
        params: Vec<Value>,
    ) -> Result<u64, DbError> {
        let call = DbCall::start(&sql);
        let result = self
            .db
            .execute(Lane::Transaction, &sql, db_values::params(params))
            .await
            .map_err(db_values::error);
        call.finish(
            &self.handler,
            "execute",
            &sql,
            &mut self.db,
            result.as_ref(),
        );
        result
    }

    async fn commit(&mut self, tx: Resource<Transaction>) -> Result<(), DbError> {
        let _ = self.table.delete(tx);
        let call = DbCall::start("COMMIT");
        let result = self.db.commit().await.map_err(db_values::error);
        call.finish(
            &self.handler,
            "commit",
            "COMMIT",
            &mut self.db,
            result.as_ref(),
        );
        result
    }

    async fn drop(&mut self, tx: Resource<Transaction>) -> wasmtime::Result<()> {
        // A transaction dropped without commit: roll it back now (a commit
        // already ended it, and this is then a no-op).
        self.table.delete(tx)?;
        self.db.rollback().await;
        Ok(())
    }
}

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
        self.spans.start(&mut self.table, &name)
    }

    async fn set_attribute(
        &mut self,
        span: Resource<GuestSpan>,
        key: String,
        value: String,
    ) -> wasmtime::Result<()> {
        GuestSpans::set_attribute(&mut self.table, &span, &key, &value)
    }

    async fn set_error(
        &mut self,
        span: Resource<GuestSpan>,
        message: String,
    ) -> wasmtime::Result<()> {
        GuestSpans::set_error(&mut self.table, &span, &message)
    }

    async fn drop(&mut self, span: Resource<GuestSpan>) -> wasmtime::Result<()> {
        self.spans.end(&mut self.table, span)
    }
}

impl log::Host for GuestState {
    async fn log(&mut self, level: Level, message: String) {
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
