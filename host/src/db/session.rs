//! One request's use of the database, on connections of the handler's own
//! pool, in two lanes:
//!
//! - autocommit: a connection taken for each call and handed back as soon
//!   as the call's rows are read, so that none idles while a guest renders
//!   its answer (one left with session state is kept to the end of the
//!   request and reset before anyone else gets it);
//! - transaction: one connection held from `begin` to `commit` or rollback;
//! - replica: for a GET or HEAD request while the host has a read replica
//!   that can serve it (see [`super::replica`]), the autocommit calls run on
//!   the replica; one the replica cannot answer (unreachable, behind on a
//!   migration, a write) runs again on the primary, and the rest of the
//!   request stays there.
//!
//! A request that wrote on the primary learns the WAL position its writes
//! reached ([`DbSession::written_at`]): its client's read-your-writes token.
//!
//! A call that ends early (deadline, trap, the client gone, shutdown) drops
//! its future while the server may still be running the statement: the
//! connection is then cancelled, rolled back and waited for before it can
//! serve anyone else ([`HandlerDb::recover`]), never handed back busy.

use std::sync::Arc;

use tokio_postgres::error::SqlState;
use tokio_postgres::types::{PgLsn, ToSql};

use super::bind::{Param, bind};
use super::capped_rows::{self, Collected};
use super::decode::{pack_row, row_values};
use super::handler_pools::{CheckoutError, Connection, HandlerConnections, HandlerDb, Leftover};
use super::json_rows;
use super::replica::{Fallback, WRITTEN_POSITION};
use super::statement_policy::{leaves_session_state, refuse};
use crate::bindings::{DbError, PackedRows, QueryFailure, Rows, Value};
use crate::telemetry::metrics as m;

/// Which connection a call runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    /// Its own statement, committed when it returns.
    Autocommit,
    /// Inside the request's open transaction.
    Transaction,
    /// Autocommit on the read replica: chosen by the session itself for the
    /// reads of a GET or HEAD request.
    Replica,
}

/// Where one request's reads may go, decided before its call.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReadPlan {
    /// A GET or HEAD request: its autocommit `query` calls are reads.
    pub read_request: bool,
    /// Its reads go to the replica (else to the primary).
    pub on_replica: bool,
    /// The host has a replica: note where the request's writes ended.
    pub track_writes: bool,
}

/// A connection of one lane and what it carries.
#[derive(Default)]
struct Slot {
    connection: Option<Connection>,
    /// A statement was sent and its answer not yet read: if the session is
    /// dropped now, the server is still running it.
    busy: bool,
    /// Session state was left on the connection.
    dirty: bool,
    /// `BEGIN` was sent and neither `COMMIT` nor `ROLLBACK` yet.
    in_transaction: bool,
    /// A statement of the open transaction failed: PostgreSQL has aborted it.
    aborted: bool,
}

impl Slot {
    /// Closes the connection instead of giving it back: its session is
    /// not worth keeping.
    fn discard(&mut self) {
        if let Some(connection) = self.connection.take() {
            drop(deadpool_postgres::Object::take(connection.client));
        }
        *self = Slot::default();
    }

    /// Gives the connection back (to the pool, or, when it carries
    /// anything, to [`HandlerDb::recover`]).
    fn release(&mut self, db: &Arc<HandlerDb>) {
        let Some(connection) = self.connection.take() else {
            return;
        };
        let leftover = Leftover {
            busy: self.busy,
            dirty: self.dirty,
            in_transaction: self.in_transaction,
        };
        *self = Slot::default();
        if !leftover.any() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            drop(deadpool_postgres::Object::take(connection.client));
            return;
        };
        let db = db.clone();
        runtime.spawn(async move { db.recover(connection, leftover).await });
    }
}

/// The database as one guest instance sees it.
pub struct DbSession {
    db: Arc<HandlerDb>,
    /// The replica's pool, while this request's reads go there.
    replica: Option<Arc<HandlerDb>>,
    plan: ReadPlan,
    /// A statement that may have written ran on the primary.
    wrote: bool,
    autocommit: Slot,
    transaction: Slot,
    read: Slot,
    /// Most bytes of rows one statement may return (see [`Self::capped`]).
    result_cap: usize,
}

impl DbSession {
    /// A session that has not touched the pool yet, reading where `plan` says.
    pub fn new(connections: &HandlerConnections, plan: ReadPlan) -> Self {
        let replica = connections
            .replica
            .clone()
            .filter(|_| plan.read_request && plan.on_replica);
        Self {
            db: connections.primary.clone(),
            replica,
            plan,
            wrote: false,
            autocommit: Slot::default(),
            transaction: Slot::default(),
            read: Slot::default(),
            result_cap: usize::MAX,
        }
    }

    /// The same session, refusing a statement whose rows pass `bytes`
    /// (as PostgreSQL sends them) once they do: rows that could never fit
    /// in the handler's memory are not gathered in the host's, where a
    /// hostile `SELECT repeat(...)` would otherwise exhaust it.
    pub fn capped(mut self, bytes: usize) -> Self {
        self.result_cap = bytes;
        self
    }

    /// A session on one pool, with no replica.
    pub fn primary_only(db: Arc<HandlerDb>) -> Self {
        Self::new(&HandlerConnections::primary_only(db), ReadPlan::default())
    }

    /// Runs a row-returning statement.
    pub async fn query(
        &mut self,
        lane: Lane,
        sql: &str,
        params: Vec<Value>,
    ) -> Result<Rows, DbError> {
        let (statement, rows) = self.routed_rows(lane, sql, params).await?;
        let columns = column_names(&statement);
        let rows = rows.iter().map(row_values).collect::<Result<Vec<_>, _>>()?;
        Ok(Rows { columns, rows })
    }

    /// Runs a row-returning statement and packs its rows into one buffer.
    pub async fn query_packed(
        &mut self,
        lane: Lane,
        sql: &str,
        params: Vec<Value>,
    ) -> Result<PackedRows, DbError> {
        let (statement, rows) = self.routed_rows(lane, sql, params).await?;
        // A guess (a point row packs into about 60 bytes) that saves most regrowth.
        let mut cells = Vec::with_capacity(rows.len() * 64);
        for row in &rows {
            pack_row(row, &mut cells)?;
        }
        Ok(PackedRows {
            columns: column_names(&statement),
            count: u32::try_from(rows.len()).unwrap_or(u32::MAX),
            cells,
        })
    }

    /// Runs a row-returning statement and renders its rows as one JSON array.
    pub async fn query_json(
        &mut self,
        lane: Lane,
        sql: &str,
        params: Vec<Value>,
    ) -> Result<Vec<u8>, DbError> {
        let (statement, rows) = self.routed_rows(lane, sql, params).await?;
        json_rows::render(statement.columns(), &rows)
    }

    /// Runs a statement for its effect (on the primary); returns rows affected.
    pub async fn execute(
        &mut self,
        lane: Lane,
        sql: &str,
        params: Vec<Value>,
    ) -> Result<u64, DbError> {
        let lane = if lane == Lane::Replica {
            Lane::Autocommit
        } else {
            lane
        };
        self.wrote = true;
        self.count_read(lane);
        let (statement, params) = self.prepare(lane, sql, params).await?;
        let affected = self
            .client(lane)?
            .execute(&statement, &as_refs(&params))
            .await;
        self.finished(lane, affected)
    }

    /// Sends the rest of this request's statements to the primary: for a
    /// read that must see the latest commit whatever the replica's lag.
    pub fn use_primary(&mut self) {
        if let Some(replica) = self.replica.take() {
            self.read.release(&replica);
        }
    }

    /// Where the primary's WAL stood once this request's writes were done,
    /// if it wrote anything and the host has a replica: at or past the
    /// commit of each of its statements.
    pub async fn written_at(&mut self) -> Option<PgLsn> {
        if !(self.wrote && self.plan.track_writes) {
            return None;
        }
        let connection = self.db.checkout().await.ok()?;
        let statement = connection
            .client
            .prepare_cached(WRITTEN_POSITION)
            .await
            .ok()?;
        let row = connection.client.query_one(&statement, &[]).await.ok()?;
        row.try_get(0).ok()
    }

    /// The rows of `sql`, from the replica when this request reads there
    /// and it can answer, else from the primary.
    async fn routed_rows(
        &mut self,
        lane: Lane,
        sql: &str,
        params: Vec<Value>,
    ) -> Result<(tokio_postgres::Statement, Vec<tokio_postgres::Row>), DbError> {
        let on_replica = lane == Lane::Autocommit && self.replica.is_some();
        if !on_replica {
            let lane = if lane == Lane::Replica {
                Lane::Autocommit
            } else {
                lane
            };
            // Rows on the primary may come from a write (INSERT ...
            // RETURNING), unless it is a read request's plain query.
            if lane == Lane::Transaction || !self.plan.read_request {
                self.wrote = true;
            }
            self.count_read(lane);
            return self.rows_on(lane, sql, params).await;
        }
        let first = self.rows_on(Lane::Replica, sql, params.clone()).await;
        let reason = match &first {
            Err(DbError::Unavailable(_)) => Fallback::Unavailable,
            Err(DbError::QueryFailed(failure)) => match Fallback::for_sqlstate(&failure.code) {
                Some(reason) => reason,
                None => return first,
            },
            _ => {
                self.count_read(Lane::Replica);
                return first;
            }
        };
        reason.count();
        tracing::debug!(reason = reason.label(), "a read ran again on the primary");
        if reason == Fallback::ReadOnly {
            self.wrote = true;
        }
        if matches!(reason, Fallback::Unavailable | Fallback::ReadOnly) {
            // The replica is gone, or this request writes: stay on the primary.
            self.use_primary();
        }
        self.count_read(Lane::Autocommit);
        self.rows_on(Lane::Autocommit, sql, params).await
    }

    /// Runs a row-returning statement on `lane`.
    async fn rows_on(
        &mut self,
        lane: Lane,
        sql: &str,
        params: Vec<Value>,
    ) -> Result<(tokio_postgres::Statement, Vec<tokio_postgres::Row>), DbError> {
        let (statement, params) = self.prepare(lane, sql, params).await?;
        let cap = self.result_cap;
        let collected =
            capped_rows::collect(self.client(lane)?, &statement, &as_refs(&params), cap).await;
        let rows = match collected {
            Ok(Collected::TooLarge) => return Err(self.abandoned(lane, cap)),
            Ok(Collected::All(rows)) => Ok(rows),
            Err(err) => Err(err),
        };
        Ok((statement, self.finished(lane, rows)?))
    }

    /// A statement whose rows passed the cap, left unread: the server is
    /// still sending them, so its connection is cancelled and settled
    /// before anyone else gets it ([`HandlerDb::recover`]); inside a
    /// transaction, the transaction is failed (it is rolled back, and its
    /// connection recovered, when the request ends).
    fn abandoned(&mut self, lane: Lane, cap: usize) -> DbError {
        let db = self.pool(lane);
        let slot = self.slot(lane);
        if lane == Lane::Transaction {
            slot.aborted = true;
        } else if !slot.dirty {
            slot.release(&db);
        }
        metrics::counter!(m::DB_RESULTS_TOO_LARGE, "handler" => db.handler().to_string())
            .increment(1);
        capped_rows::too_large(cap)
    }

    /// Counts a statement of a read request by the server it runs on.
    fn count_read(&self, lane: Lane) {
        if self.plan.read_request {
            let target = if lane == Lane::Replica {
                "replica"
            } else {
                "primary"
            };
            metrics::counter!(m::READS, "target" => target).increment(1);
        }
    }

    /// Opens the request's transaction on a connection of its own.
    pub async fn begin(&mut self) -> Result<(), DbError> {
        if self.transaction.connection.is_some() {
            return Err(DbError::Forbidden(
                "a transaction is already open; commit or drop it first".into(),
            ));
        }
        let connection = self.db.checkout().await.map_err(unavailable)?;
        self.wrote = true;
        let slot = &mut self.transaction;
        slot.busy = true;
        let client = &slot.connection.insert(connection).client;
        let begun = client.batch_execute("BEGIN").await;
        slot.busy = false;
        match begun {
            Ok(()) => {
                slot.in_transaction = true;
                Ok(())
            }
            Err(err) => {
                slot.release(&self.db);
                Err(failure(&self.db, err))
            }
        }
    }

    /// Commits the open transaction and gives its connection back. A
    /// transaction one of whose statements failed is rolled back instead,
    /// and the answer says so.
    pub async fn commit(&mut self) -> Result<(), DbError> {
        let Some(connection) = &self.transaction.connection else {
            return Err(DbError::Forbidden("no transaction is open".into()));
        };
        let aborted = self.transaction.aborted;
        self.transaction.busy = true;
        let ended = connection
            .client
            .batch_execute(if aborted { "ROLLBACK" } else { "COMMIT" })
            .await;
        self.transaction.busy = false;
        self.transaction.in_transaction = ended.is_err();
        self.transaction.release(&self.db);
        match ended {
            Err(err) => Err(failure(&self.db, err)),
            Ok(()) if aborted => Err(DbError::QueryFailed(QueryFailure {
                code: SqlState::IN_FAILED_SQL_TRANSACTION.code().to_owned(),
                message: "a statement of this transaction failed, so it was rolled back; \
                          nothing was committed"
                    .to_owned(),
                constraint: None,
            })),
            Ok(()) => Ok(()),
        }
    }

    /// Rolls the open transaction back (its resource was dropped).
    pub async fn rollback(&mut self) {
        let Some(connection) = &self.transaction.connection else {
            return;
        };
        self.transaction.busy = true;
        let ended = connection.client.batch_execute("ROLLBACK").await;
        self.transaction.busy = false;
        self.transaction.in_transaction = ended.is_err();
        self.transaction.release(&self.db);
    }

    fn slot(&mut self, lane: Lane) -> &mut Slot {
        match lane {
            Lane::Autocommit => &mut self.autocommit,
            Lane::Transaction => &mut self.transaction,
            Lane::Replica => &mut self.read,
        }
    }

    /// The pool a lane's connections come from.
    fn pool(&self, lane: Lane) -> Arc<HandlerDb> {
        match (lane, &self.replica) {
            (Lane::Replica, Some(replica)) => replica.clone(),
            _ => self.db.clone(),
        }
    }

    /// The call's answer is in: note a failure inside the transaction, and
    /// hand an autocommit connection back unless it carries session state
    /// (then it is reset at the end of the request).
    fn finished<T>(
        &mut self,
        lane: Lane,
        result: Result<T, tokio_postgres::Error>,
    ) -> Result<T, DbError> {
        let db = self.pool(lane);
        let slot = self.slot(lane);
        slot.busy = false;
        if result.is_err() && lane == Lane::Transaction {
            slot.aborted = true;
        }
        if lane != Lane::Transaction && !slot.dirty {
            match &result {
                Err(err) if lane == Lane::Replica && behind_its_role(err) => slot.discard(),
                _ => slot.release(&db),
            }
        }
        result.map_err(|e| failure(&db, e))
    }

    /// Checks `sql`, makes sure the lane has a connection, and prepares the
    /// statement and binds `params` on it.
    async fn prepare(
        &mut self,
        lane: Lane,
        sql: &str,
        params: Vec<Value>,
    ) -> Result<(tokio_postgres::Statement, Vec<Param>), DbError> {
        refuse(sql)?;
        if lane == Lane::Transaction && self.transaction.connection.is_none() {
            return Err(DbError::Forbidden("this transaction has ended".into()));
        }
        let db = self.pool(lane);
        if lane != Lane::Transaction && self.slot(lane).connection.is_none() {
            let connection = db.checkout().await.map_err(unavailable)?;
            self.slot(lane).connection = Some(connection);
        }
        let slot = self.slot(lane);
        if leaves_session_state(sql) {
            slot.dirty = true;
        }
        // From here until `finished`, dropping this future leaves a
        // statement (or its preparation) running on the server.
        slot.busy = true;
        let prepared = match &slot.connection {
            Some(connection) => connection.client.prepare_cached(sql).await,
            None => return Err(DbError::Unavailable("no connection".into())),
        };
        let stale = matches!(&prepared, Err(err) if lane == Lane::Replica && behind_its_role(err));
        let outcome = prepared.map_err(|e| failure(&db, e)).and_then(|statement| {
            bind(statement.params(), params)
                .map(|params| (statement, params))
                .map_err(DbError::BadParameter)
        });
        if outcome.is_err() {
            slot.busy = false;
            if lane == Lane::Transaction {
                slot.aborted = true;
            } else if stale {
                slot.discard();
            } else if !slot.dirty {
                slot.release(&db);
            }
        }
        outcome
    }

    /// The connection [`prepare`](Self::prepare) made sure of.
    fn client(&self, lane: Lane) -> Result<&deadpool_postgres::Object, DbError> {
        let slot = match lane {
            Lane::Autocommit => &self.autocommit,
            Lane::Transaction => &self.transaction,
            Lane::Replica => &self.read,
        };
        slot.connection
            .as_ref()
            .map(|connection| &connection.client)
            .ok_or_else(|| DbError::Unavailable("no database connection is checked out".into()))
    }
}

impl Drop for DbSession {
    /// A connection still running a statement, inside a transaction, or
    /// left with session state goes to a task that cancels, rolls back and
    /// resets it, and only then returns it to the pool (or closes it).
    fn drop(&mut self) {
        let db = self.db.clone();
        self.autocommit.release(&db);
        self.transaction.release(&db);
        if let Some(replica) = self.replica.take() {
            self.read.release(&replica);
        }
    }
}

/// Whether a replica's connection failed because it was opened before the
/// replica had replayed everything about the handler's role (its search
/// path, its schema, its grants): a new connection will know them.
fn behind_its_role(err: &tokio_postgres::Error) -> bool {
    err.code()
        .and_then(|code| Fallback::for_sqlstate(code.code()))
        == Some(Fallback::SchemaBehind)
}

fn column_names(statement: &tokio_postgres::Statement) -> Vec<String> {
    statement
        .columns()
        .iter()
        .map(|c| c.name().to_owned())
        .collect()
}

fn as_refs(params: &[Param]) -> Vec<&(dyn ToSql + Sync)> {
    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect()
}

fn unavailable(err: CheckoutError) -> DbError {
    DbError::Unavailable(err.to_string())
}

/// PostgreSQL's own errors become `query-failed`; a lost connection is
/// `unavailable` because a retry on a fresh connection may succeed.
fn failure(handler: &HandlerDb, err: tokio_postgres::Error) -> DbError {
    match err.as_db_error() {
        Some(db) => {
            if *db.code() == SqlState::QUERY_CANCELED && db.message().contains("statement timeout")
            {
                metrics::counter!(m::DB_STATEMENT_TIMEOUTS, "handler" => handler.handler().to_string())
                    .increment(1);
            }
            DbError::QueryFailed(QueryFailure {
                code: db.code().code().to_owned(),
                message: db.message().to_owned(),
                constraint: db.constraint().map(str::to_owned),
            })
        }
        None if err.is_closed() => {
            DbError::Unavailable("the database connection was lost".to_owned())
        }
        None => DbError::Unavailable(err.to_string()),
    }
}
