//! Where a request's statements run: the read replica for the reads of a
//! GET or HEAD request while it can answer them, the primary for the rest,
//! and the position the request's writes reached for read-your-writes.

use tokio_postgres::types::PgLsn;

use super::{DbSession, Lane};
use crate::replica::{Fallback, WRITTEN_POSITION};
use crate::value::{DbError, Value};
use geofn_telemetry::metrics as m;

impl DbSession {
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
    pub(super) async fn routed_rows(
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

    /// Counts a statement of a read request by the server it runs on (and
    /// notes that server for the statement's span).
    pub(super) fn count_read(&mut self, lane: Lane) {
        self.facts.on_replica = lane == Lane::Replica;
        if self.plan.read_request {
            let target = if lane == Lane::Replica {
                "replica"
            } else {
                "primary"
            };
            metrics::counter!(m::READS, "target" => target).increment(1);
        }
    }
}
