//! One request's use of the database, on connections of the handler's own
//! pool, in two lanes:
//!
//! - autocommit: a connection taken for each call and handed back as soon
//!   as the call's rows are read, so that none idles while a guest renders
//!   its answer (one left with session state is kept to the end of the
//!   request and reset before anyone else gets it);
//! - transaction: one connection held from `begin` to `commit` or rollback.
//!
//! A call that ends early (deadline, trap, the client gone, shutdown) drops
//! its future while the server may still be running the statement: the
//! connection is then cancelled, rolled back and waited for before it can
//! serve anyone else ([`HandlerDb::recover`]), never handed back busy.

use std::sync::Arc;

use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;

use super::bind::{Param, bind};
use super::decode::{pack_row, row_values};
use super::handler_pools::{CheckoutError, Connection, HandlerDb, Leftover};
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
    autocommit: Slot,
    transaction: Slot,
}

impl DbSession {
    /// A session that has not touched the pool yet.
    pub fn new(db: Arc<HandlerDb>) -> Self {
        Self {
            db,
            autocommit: Slot::default(),
            transaction: Slot::default(),
        }
    }

    /// Runs a row-returning statement.
    pub async fn query(
        &mut self,
        lane: Lane,
        sql: &str,
        params: Vec<Value>,
    ) -> Result<Rows, DbError> {
        let (statement, params) = self.prepare(lane, sql, params).await?;
        let rows = self
            .client(lane)?
            .query(&statement, &as_refs(&params))
            .await;
        let rows = self.finished(lane, rows)?;
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
        let (statement, params) = self.prepare(lane, sql, params).await?;
        let rows = self
            .client(lane)?
            .query(&statement, &as_refs(&params))
            .await;
        let rows = self.finished(lane, rows)?;
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

    /// Runs a statement for its effect; returns rows affected.
    pub async fn execute(
        &mut self,
        lane: Lane,
        sql: &str,
        params: Vec<Value>,
    ) -> Result<u64, DbError> {
        let (statement, params) = self.prepare(lane, sql, params).await?;
        let affected = self
            .client(lane)?
            .execute(&statement, &as_refs(&params))
            .await;
        self.finished(lane, affected)
    }

    /// Opens the request's transaction on a connection of its own.
    pub async fn begin(&mut self) -> Result<(), DbError> {
        if self.transaction.connection.is_some() {
            return Err(DbError::Forbidden(
                "a transaction is already open; commit or drop it first".into(),
            ));
        }
        let connection = self.db.checkout().await.map_err(unavailable)?;
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
        let db = self.db.clone();
        let slot = self.slot(lane);
        slot.busy = false;
        if result.is_err() && lane == Lane::Transaction {
            slot.aborted = true;
        }
        if lane == Lane::Autocommit && !slot.dirty {
            slot.release(&db);
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
        if lane == Lane::Autocommit && self.autocommit.connection.is_none() {
            let connection = self.db.checkout().await.map_err(unavailable)?;
            self.autocommit.connection = Some(connection);
        }
        let db = self.db.clone();
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
        let outcome = prepared.map_err(|e| failure(&db, e)).and_then(|statement| {
            bind(statement.params(), params)
                .map(|params| (statement, params))
                .map_err(DbError::BadParameter)
        });
        if outcome.is_err() {
            slot.busy = false;
            if lane == Lane::Transaction {
                slot.aborted = true;
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
    }
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
