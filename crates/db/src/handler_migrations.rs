//! A handler's own schema migrations, carried in its artifact and applied
//! before that version serves: per handler, in order, each in its own
//! transaction, run as the handler's role (so everything it creates is its
//! own, in its own schema), each exactly once however many replicas race.
//!
//! The record of what was applied lives in the host's
//! `geofn_handler_migrations`. The handler's role cannot write that table;
//! it claims a migration through `geofn_claim_migration`, a function owned
//! by the host's role, inside the same transaction as the migration's SQL,
//! so the record and the schema change commit together or not at all.
//! Racing replicas take turns on a per-handler advisory lock; the one that
//! comes second finds the claim and does nothing.

use std::collections::HashMap;

use deadpool_postgres::Pool;
use geofn_contract::embedded::Migration;
use sha2::{Digest, Sha256};

use crate::roles::HandlerRole;

/// Hex SHA-256 of a migration's SQL: an applied migration whose text
/// changed is refused, never run again.
pub fn checksum(migration: &Migration) -> String {
    hex::encode(Sha256::digest(migration.sql.as_bytes()))
}

/// Why a version's migrations could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    /// A migration failed: it and every later one are not applied.
    #[error("migration {id:?} of handler {handler:?} failed, nothing of it was applied: {message}")]
    Failed {
        /// Handler name.
        handler: String,
        /// Migration id.
        id: String,
        /// PostgreSQL's answer.
        message: String,
    },
    /// A migration already applied has other SQL in this version.
    #[error(
        "migration {id:?} of handler {handler:?} was applied with other SQL (checksum {applied}, \
         this version has {now}); applied migrations cannot change: add a new one"
    )]
    Changed {
        /// Handler name.
        handler: String,
        /// Migration id.
        id: String,
        /// Checksum recorded when it was applied.
        applied: String,
        /// Checksum of this version's SQL.
        now: String,
    },
    /// The database could not be reached or refused the bookkeeping.
    #[error("applying the migrations of handler {handler:?}: {message}")]
    Database {
        /// Handler name.
        handler: String,
        /// What went wrong.
        message: String,
    },
}

/// What a handler's migrations came to.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Applied {
    /// Ids applied now, by this replica.
    pub now: Vec<String>,
    /// Ids found applied already (earlier, or by a racing replica).
    pub before: Vec<String>,
}

/// Applies the pending migrations of `role`'s handler on `connection`, a
/// connection logged in as that role.
pub async fn apply(
    host: &Pool,
    connection: &mut tokio_postgres::Client,
    role: &HandlerRole,
    migrations: &[Migration],
) -> Result<Applied, MigrationError> {
    let handler = role.handler.as_str();
    let database = |message: String| MigrationError::Database {
        handler: handler.to_owned(),
        message,
    };
    let recorded = recorded(host, handler).await.map_err(database)?;
    let mut applied = Applied::default();
    for migration in migrations {
        let checksum = checksum(migration);
        match recorded.get(&migration.id) {
            Some(before) if *before == checksum => {
                applied.before.push(migration.id.clone());
                continue;
            }
            Some(before) => {
                return Err(MigrationError::Changed {
                    handler: handler.to_owned(),
                    id: migration.id.clone(),
                    applied: before.clone(),
                    now: checksum,
                });
            }
            None => {}
        }
        let ran = apply_one(connection, role, migration, &checksum).await?;
        if ran {
            tracing::info!(
                handler.name = handler,
                migration.id = %migration.id,
                migration.checksum = %checksum,
                "applied handler migration"
            );
            applied.now.push(migration.id.clone());
        } else {
            applied.before.push(migration.id.clone());
        }
    }
    Ok(applied)
}

/// Whether any of `migrations` is not recorded as applied with the same SQL:
/// one query on the host's pool, so a version whose migrations another
/// replica (or an earlier version) applied opens no connection of its own.
/// A migration recorded with other SQL counts as pending: [`apply`] refuses
/// it with its reason.
pub async fn any_pending(
    host: &Pool,
    handler: &str,
    migrations: &[Migration],
) -> Result<bool, MigrationError> {
    let recorded = recorded(host, handler)
        .await
        .map_err(|message| MigrationError::Database {
            handler: handler.to_owned(),
            message,
        })?;
    Ok(migrations
        .iter()
        .any(|m| recorded.get(&m.id) != Some(&checksum(m))))
}

/// Checksums of the applied migrations of `handler`, by id.
async fn recorded(host: &Pool, handler: &str) -> Result<HashMap<String, String>, String> {
    let client = host.get().await.map_err(|e| e.to_string())?;
    let rows = client
        .query(
            "SELECT id, checksum FROM geofn_handler_migrations WHERE handler = $1",
            &[&handler],
        )
        .await
        .map_err(|e| e.to_string())?;
    Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
}

/// One migration in its own transaction; `false` if a racing replica had
/// applied it first.
async fn apply_one(
    connection: &mut tokio_postgres::Client,
    role: &HandlerRole,
    migration: &Migration,
    checksum: &str,
) -> Result<bool, MigrationError> {
    let handler = role.handler.as_str();
    let failed = |message: String| MigrationError::Failed {
        handler: handler.to_owned(),
        id: migration.id.clone(),
        message,
    };
    let tx = connection
        .transaction()
        .await
        .map_err(|e| failed(e.to_string()))?;
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('geofn-migrations:' || $1::text, 0))",
        &[&handler],
    )
    .await
    .map_err(|e| failed(e.to_string()))?;
    let claimed: Option<String> = tx
        .query_one(
            "SELECT public.geofn_claim_migration($1, $2, $3)",
            &[&handler, &migration.id, &checksum],
        )
        .await
        .map_err(|e| failed(format!("claiming it: {e}")))?
        .get(0);
    match claimed {
        None => {}
        Some(before) if before == checksum => return Ok(false),
        Some(before) => {
            return Err(MigrationError::Changed {
                handler: handler.to_owned(),
                id: migration.id.clone(),
                applied: before,
                now: checksum.to_owned(),
            });
        }
    }
    let xid: i64 = tx
        .query_one("SELECT txid_current()", &[])
        .await
        .map_err(|e| failed(e.to_string()))?
        .get(0);
    tx.batch_execute(&format!(
        "SET LOCAL search_path = {}, public",
        crate::roles::ident(&role.schema)
    ))
    .await
    .map_err(|e| failed(e.to_string()))?;
    tx.batch_execute(&migration.sql)
        .await
        .map_err(|e| failed(postgres_message(&e)))?;
    // SQL that ends the transaction itself would leave the rest of it
    // committed piecemeal, outside the record: refuse it.
    let still: i64 = tx
        .query_one("SELECT txid_current()", &[])
        .await
        .map_err(|e| failed(e.to_string()))?
        .get(0);
    if still != xid {
        return Err(failed(
            "it ended its own transaction (COMMIT or ROLLBACK in a migration); \
             each migration runs in one transaction the host ends"
                .into(),
        ));
    }
    tx.commit()
        .await
        .map_err(|e| failed(postgres_message(&e)))?;
    Ok(true)
}

/// PostgreSQL's message, with its position and hint when it gave them.
fn postgres_message(err: &tokio_postgres::Error) -> String {
    match err.as_db_error() {
        Some(db) => {
            let mut message = db.message().to_owned();
            if let Some(detail) = db.detail() {
                message.push_str(&format!(" ({detail})"));
            }
            if let Some(hint) = db.hint() {
                message.push_str(&format!("; hint: {hint}"));
            }
            message
        }
        None => err.to_string(),
    }
}
