//! Work that commits together or not at all.
//!
//! ```ignore
//! let id = geofn_guest::tx::transaction(|tx| {
//!     let rows = tx.query("INSERT INTO regions (name) VALUES ($1) RETURNING id", &[name.into()])?;
//!     tx.execute("INSERT INTO region_log (region) VALUES ($1)", &[rows.first()...])?;
//!     Ok(id)
//! })?;
//! ```
//! If the closure returns an error, or the handler traps or runs out of
//! time, nothing of it is stored.

use crate::error::Result;
use crate::rows::Rows;
use crate::wit::db::{self, Value};

/// A transaction in progress; see [`transaction`].
#[derive(Debug)]
pub struct Tx(db::Transaction);

impl Tx {
    /// A row-returning statement inside the transaction.
    pub fn query(&self, sql: &str, params: &[Value]) -> Result<Rows> {
        Ok(self.0.query(sql, params)?.into())
    }

    /// A row-returning statement inside the transaction, its rows as one
    /// JSON array (see [`crate::sql::query_json`]).
    pub fn query_json(&self, sql: &str, params: &[Value]) -> Result<Vec<u8>> {
        Ok(self.0.query_json(sql, params)?)
    }

    /// A statement for its effect inside the transaction; rows affected.
    pub fn execute(&self, sql: &str, params: &[Value]) -> Result<u64> {
        Ok(self.0.execute(sql, params)?)
    }
}

/// Runs `work` in one transaction: committed when it returns `Ok` (and the
/// commit succeeds), rolled back otherwise.
pub fn transaction<T>(work: impl FnOnce(&Tx) -> Result<T>) -> Result<T> {
    let tx = Tx(db::begin()?);
    let answer = work(&tx)?;
    db::Transaction::commit(tx.0)?;
    Ok(answer)
}
