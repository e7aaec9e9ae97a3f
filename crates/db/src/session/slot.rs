//! A connection of one lane of a request's session, and what it carries
//! when it goes back.

use std::sync::Arc;

use crate::handler_pools::{Connection, HandlerDb, Leftover};

/// A connection of one lane and what it carries.
#[derive(Default)]
pub(super) struct Slot {
    pub(super) connection: Option<Connection>,
    /// A statement was sent and its answer not yet read: if the session is
    /// dropped now, the server is still running it.
    pub(super) busy: bool,
    /// Session state was left on the connection.
    pub(super) dirty: bool,
    /// `BEGIN` was sent and neither `COMMIT` nor `ROLLBACK` yet.
    pub(super) in_transaction: bool,
    /// A statement of the open transaction failed: PostgreSQL has aborted it.
    pub(super) aborted: bool,
    /// The connection's claims were made the request's.
    pub(super) claims: bool,
}

impl Slot {
    /// Closes the connection instead of giving it back: its session is
    /// not worth keeping.
    pub(super) fn discard(&mut self) {
        if let Some(connection) = self.connection.take() {
            drop(deadpool_postgres::Object::take(connection.client));
        }
        *self = Slot::default();
    }

    /// Gives the connection back (to the pool, or, when it carries
    /// anything, to [`HandlerDb::recover`]).
    pub(super) fn release(&mut self, db: &Arc<HandlerDb>) {
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
