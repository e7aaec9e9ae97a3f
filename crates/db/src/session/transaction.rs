//! The transaction lane: one connection held from `begin` to `commit` or
//! rollback.

use std::sync::Arc;

use tokio_postgres::error::SqlState;

use super::DbSession;
use super::failure::{failure, unavailable};
use crate::held_claims::NONE;
use crate::value::{DbError, QueryFailure};

impl DbSession {
    /// Opens the request's transaction on a connection of its own.
    pub async fn begin(&mut self) -> Result<(), DbError> {
        if self.transaction.connection.is_some() {
            return Err(DbError::Forbidden(
                "a transaction is already open; commit or drop it first".into(),
            ));
        }
        let connection = self.db.checkout().await.map_err(unavailable)?;
        self.wrote = true;
        let claims = self.claims.clone().unwrap_or_else(|| Arc::from(NONE));
        let slot = &mut self.transaction;
        slot.busy = true;
        slot.claims = true;
        let connection = slot.connection.insert(connection);
        let begun = match super::hold_claims(&self.db, connection, claims).await {
            Ok(()) => connection.client.batch_execute("BEGIN").await,
            Err(err) => Err(err),
        };
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
}
