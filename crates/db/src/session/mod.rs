//! One request's use of the database, on connections of the handler's own
//! pool, in two lanes:
//!
//! - autocommit: a connection taken for each call and handed back as soon
//!   as the call's rows are read, so that none idles while a guest renders
//!   its answer (one left with session state is kept to the end of the
//!   request and reset before anyone else gets it);
//! - transaction: one connection held from `begin` to `commit` or rollback;
//! - replica: for a GET or HEAD request while the host has a read replica
//!   that can serve it (see [`crate::replica`]), the autocommit calls run on
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

use crate::bind::{Param, as_refs, bind};
use crate::capped_rows::{self, Collected};
use crate::decode::{pack_row, row_values};
use crate::handler_pools::{Connection, HandlerConnections, HandlerDb};
use crate::held_claims::NONE;
use crate::json_rows;
use crate::statement_policy::{leaves_session_state, refuse};
use crate::value::{DbError, PackedRows, Rows, Value};
pub use facts::CallFacts;
use failure::{behind_its_role, failure, unavailable};
use geofn_telemetry::metrics as m;
use slot::Slot;

mod facts;
mod failure;
mod routing;
mod slot;
mod transaction;

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
    /// The caller's verified claims, JSON, for `request.jwt.claims`.
    claims: Option<Arc<str>>,
    /// What the statement running or just run waited for.
    facts: CallFacts,
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
            claims: None,
            facts: CallFacts::default(),
        }
    }

    /// The same session, its SQL seeing the caller's verified `claims` (a
    /// JSON object) as `current_setting('request.jwt.claims', true)`, the
    /// name PostgREST gives them, so row-level security policies can read
    /// them; empty for an anonymous request. Each connection is made to
    /// hold the request's before its first statement on it, which costs a
    /// statement only when it held another caller's.
    pub fn with_claims(mut self, claims: Option<Arc<str>>) -> Self {
        self.claims = claims;
        self
    }

    /// The same session, refusing a statement whose rows pass `bytes`
    /// (as PostgreSQL sends them) once they do: rows that could never fit
    /// in the handler's memory are not gathered in the host's, where a
    /// hostile `SELECT repeat(...)` would otherwise exhaust it.
    pub fn capped(mut self, bytes: usize) -> Self {
        self.result_cap = bytes;
        self
    }

    /// What the last statement waited for and where it ran (then reset).
    pub fn take_facts(&mut self) -> CallFacts {
        std::mem::take(&mut self.facts)
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
        self.facts.rendered_rows = Some(rows.len() as u64);
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
            let asked = std::time::Instant::now();
            let connection = db.checkout().await.map_err(unavailable);
            self.facts.pool_wait += asked.elapsed();
            self.slot(lane).connection = Some(connection?);
        }
        let claims = self.claims.clone().unwrap_or_else(|| Arc::from(NONE));
        let slot = self.slot(lane);
        if leaves_session_state(sql) {
            slot.dirty = true;
        }
        // From here until `finished`, dropping this future leaves a
        // statement (or its preparation) running on the server.
        slot.busy = true;
        if !slot.claims
            && let Some(connection) = &slot.connection
        {
            slot.claims = true;
            if let Err(err) = hold_claims(&db, connection, claims).await {
                slot.busy = false;
                if lane != Lane::Transaction && !slot.dirty {
                    slot.release(&db);
                }
                return Err(failure(&db, err));
            }
        }
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

/// Makes `connection`'s `request.jwt.claims` the request's (`NONE` for an
/// anonymous one), unless its session holds them already.
pub(super) async fn hold_claims(
    db: &HandlerDb,
    connection: &Connection,
    claims: Arc<str>,
) -> Result<(), tokio_postgres::Error> {
    if db.held_claims(connection).as_deref() == Some(&*claims) {
        return Ok(());
    }
    db.forget_claims(connection);
    let client = &connection.client;
    let statement = client
        .prepare_cached("SELECT set_config('request.jwt.claims', $1, false)")
        .await?;
    client.execute(&statement, &[&&*claims]).await?;
    db.note_claims(connection, claims);
    Ok(())
}

fn column_names(statement: &tokio_postgres::Statement) -> Vec<String> {
    statement
        .columns()
        .iter()
        .map(|c| c.name().to_owned())
        .collect()
}
