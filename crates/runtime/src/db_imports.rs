//! The `db` import: a guest's SQL through its request's session, each
//! call timed, logged and traced by [`DbCall`]. Autocommit calls and calls
//! inside the guest's transaction differ only in their [`Lane`].

use wasmtime::component::Resource;

use geofn_db::session::Lane;

use crate::bindings::geofn::handler::db;
use crate::bindings::{DbError, PackedRows, Rows, Value};
use crate::db_call::{Counted, DbCall};
use crate::db_values;
use crate::guest::GuestState;
use crate::transaction::Transaction;

impl GuestState {
    /// Ends `call` of the guest's database session: its metric, log line
    /// and span, with secrets out of any error text; the guest waited
    /// that long, suspended (not computing: `throttle`).
    fn finished<T: Counted>(
        &mut self,
        call: DbCall,
        kind: &'static str,
        sql: &str,
        result: Result<&T, &DbError>,
    ) {
        self.db_waited += call.finish(
            &self.handler,
            &self.variables,
            kind,
            sql,
            &mut self.db,
            result,
        );
    }

    async fn rows(&mut self, lane: Lane, sql: String, params: Vec<Value>) -> Result<Rows, DbError> {
        let call = DbCall::start(&sql);
        let result = self
            .db
            .query(lane, &sql, db_values::params(params))
            .await
            .map(db_values::rows)
            .map_err(db_values::error);
        self.finished(call, "query", &sql, result.as_ref());
        result
    }

    async fn packed(
        &mut self,
        lane: Lane,
        sql: String,
        params: Vec<Value>,
    ) -> Result<PackedRows, DbError> {
        let call = DbCall::start(&sql);
        let result = self
            .db
            .query_packed(lane, &sql, db_values::params(params))
            .await
            .map(db_values::packed)
            .map_err(db_values::error);
        self.finished(call, "query", &sql, result.as_ref());
        result
    }

    async fn json(
        &mut self,
        lane: Lane,
        sql: String,
        params: Vec<Value>,
    ) -> Result<Vec<u8>, DbError> {
        let call = DbCall::start(&sql);
        let result = self
            .db
            .query_json(lane, &sql, db_values::params(params))
            .await
            .map_err(db_values::error);
        self.finished(call, "query", &sql, result.as_ref());
        result
    }

    async fn affected(
        &mut self,
        lane: Lane,
        sql: String,
        params: Vec<Value>,
    ) -> Result<u64, DbError> {
        let call = DbCall::start(&sql);
        let result = self
            .db
            .execute(lane, &sql, db_values::params(params))
            .await
            .map_err(db_values::error);
        self.finished(call, "execute", &sql, result.as_ref());
        result
    }
}

impl db::Host for GuestState {
    async fn query(&mut self, sql: String, params: Vec<Value>) -> Result<Rows, DbError> {
        self.rows(Lane::Autocommit, sql, params).await
    }

    async fn query_packed(
        &mut self,
        sql: String,
        params: Vec<Value>,
    ) -> Result<PackedRows, DbError> {
        self.packed(Lane::Autocommit, sql, params).await
    }

    async fn query_json(&mut self, sql: String, params: Vec<Value>) -> Result<Vec<u8>, DbError> {
        self.json(Lane::Autocommit, sql, params).await
    }

    async fn execute(&mut self, sql: String, params: Vec<Value>) -> Result<u64, DbError> {
        self.affected(Lane::Autocommit, sql, params).await
    }

    async fn begin(&mut self) -> Result<Resource<Transaction>, DbError> {
        let call = DbCall::start("BEGIN");
        let result = self.db.begin().await.map_err(db_values::error);
        self.finished(call, "begin", "BEGIN", result.as_ref());
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
        self.rows(Lane::Transaction, sql, params).await
    }

    async fn query_packed(
        &mut self,
        _tx: Resource<Transaction>,
        sql: String,
        params: Vec<Value>,
    ) -> Result<PackedRows, DbError> {
        self.packed(Lane::Transaction, sql, params).await
    }

    async fn query_json(
        &mut self,
        _tx: Resource<Transaction>,
        sql: String,
        params: Vec<Value>,
    ) -> Result<Vec<u8>, DbError> {
        self.json(Lane::Transaction, sql, params).await
    }

    async fn execute(
        &mut self,
        _tx: Resource<Transaction>,
        sql: String,
        params: Vec<Value>,
    ) -> Result<u64, DbError> {
        self.affected(Lane::Transaction, sql, params).await
    }

    async fn commit(&mut self, tx: Resource<Transaction>) -> Result<(), DbError> {
        let _ = self.table.delete(tx);
        let call = DbCall::start("COMMIT");
        let result = self.db.commit().await.map_err(db_values::error);
        self.finished(call, "commit", "COMMIT", result.as_ref());
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
