//! `geofn_handler_versions`: every pushed component, one active per name.

use deadpool_postgres::{Object, Pool, Transaction};
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use geofn_contract::access::DatabaseAccess;
use geofn_contract::limits::LimitOverrides;

use super::signed::CHANNEL;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No connection could be had.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A statement failed.
    #[error("{context}: {source}")]
    Query {
        /// What we were doing.
        context: &'static str,
        /// PostgreSQL's answer.
        source: tokio_postgres::Error,
    },
    /// Rollback found no version to go to.
    #[error("{0}")]
    NoSuchVersion(String),
    /// A version pushed by reference could not be pulled.
    #[error("pulling a pushed version: {0}")]
    Pull(String),
}

/// Largest component a push may carry: Rust handlers are a few hundred
/// KiB, Python ones (a whole CPython inside) about 18 MB; this bounds what
/// one request can make a replica buffer.
pub const MAX_COMPONENT_BYTES: usize = 48 << 20;

type Result<T> = std::result::Result<T, StoreError>;

fn query(context: &'static str) -> impl Fn(tokio_postgres::Error) -> StoreError {
    move |source| StoreError::Query { context, source }
}

/// An active stored handler, without its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Active {
    /// Handler name.
    pub name: String,
    /// Version number, per name, from 1.
    pub version: i32,
    /// Hex SHA-256 of the component.
    pub sha256: String,
    /// Routes, as in the manifest.
    pub routes: Vec<String>,
    /// Limits, as in the manifest.
    pub limits: LimitOverrides,
    /// Database access, as in the manifest.
    pub database: DatabaseAccess,
    /// Where its component is, when it was pushed by reference
    /// (`oci://...@sha256:...`); else its bytes are stored here.
    pub source: Option<String>,
}

/// What a push stores besides the component.
#[derive(Debug, Clone, Default)]
pub struct PushSpec {
    /// Routes.
    pub routes: Vec<String>,
    /// Limits.
    pub limits: LimitOverrides,
    /// Database access.
    pub database: DatabaseAccess,
}

/// One stored version, for the admin listing.
#[derive(Debug, Clone, Serialize)]
pub struct Version {
    /// Handler name.
    pub name: String,
    /// Version number.
    pub version: i32,
    /// Hex SHA-256.
    pub sha256: String,
    /// Component size in bytes.
    pub size: i32,
    /// Routes.
    pub routes: Vec<String>,
    /// When it was pushed.
    pub created_at: String,
    /// Whether replicas serve it.
    pub active: bool,
    /// The reference it was pushed by, if it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// The active versions.
pub async fn active(pool: &Pool) -> Result<Vec<Active>> {
    let client = connection(pool).await?;
    let rows = client
        .query(
            "SELECT name, version, sha256, routes, limits::text, access::text, source \
             FROM geofn_handler_versions WHERE active ORDER BY name",
            &[],
        )
        .await
        .map_err(query("reading active handler versions"))?;
    Ok(rows
        .iter()
        .map(|row| Active {
            name: row.get(0),
            version: row.get(1),
            sha256: row.get(2),
            routes: row.get(3),
            limits: serde_json::from_str(row.get::<_, &str>(4)).unwrap_or_default(),
            database: serde_json::from_str(row.get::<_, &str>(5)).unwrap_or_default(),
            source: row.get(6),
        })
        .collect())
}

/// The bytes of one version (stored with it, not pushed by reference).
pub async fn component(pool: &Pool, name: &str, version: i32) -> Result<Vec<u8>> {
    let client = connection(pool).await?;
    let row = client
        .query_one(
            "SELECT component FROM geofn_handler_versions WHERE name = $1 AND version = $2",
            &[&name, &version],
        )
        .await
        .map_err(query("reading a component"))?;
    row.get::<_, Option<Vec<u8>>>(0).ok_or_else(|| {
        StoreError::NoSuchVersion(format!("{name} version {version} is stored by reference"))
    })
}

/// Where a version's component is: its bytes, stored with it, or a
/// reference pinned to a digest, from which every replica pulls it.
#[derive(Debug, Clone, Copy)]
pub enum Component<'a> {
    /// The bytes.
    Bytes(&'a [u8]),
    /// `oci://...@sha256:...`, and the component's size.
    Reference(&'a str, usize),
}

/// Stores a new version of `name` and makes it the active one, in one
/// transaction that also notifies every replica with `notification`.
pub async fn push(
    pool: &Pool,
    name: &str,
    component: Component<'_>,
    sha256: &str,
    spec: &PushSpec,
    notification: &str,
) -> Result<i32> {
    let mut client = connection(pool).await?;
    let tx = locked(&mut client, name, "starting the push").await?;
    let version: i32 = tx
        .query_one(
            "SELECT coalesce(max(version), 0) + 1 FROM geofn_handler_versions WHERE name = $1",
            &[&name],
        )
        .await
        .map_err(query("numbering the version"))?
        .get(0);
    deactivate(&tx, name).await?;
    let limits = serde_json::to_string(&spec.limits).unwrap_or_else(|_| "{}".into());
    let access = serde_json::to_string(&spec.database).unwrap_or_else(|_| "{}".into());
    let (bytes, source, size) = match component {
        Component::Bytes(bytes) => (Some(bytes), None, bytes.len()),
        Component::Reference(source, size) => (None, Some(source), size),
    };
    let size = i32::try_from(size).unwrap_or(i32::MAX);
    tx.execute(
        "INSERT INTO geofn_handler_versions \
         (name, version, sha256, component, source, size, routes, limits, access, active) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, ($8::text)::jsonb, ($9::text)::jsonb, true)",
        &[
            &name,
            &version,
            &sha256,
            &bytes,
            &source,
            &size,
            &spec.routes,
            &limits,
            &access,
        ],
    )
    .await
    .map_err(query("storing the version"))?;
    notify_and_commit(tx, notification, "committing the push").await?;
    Ok(version)
}

/// Activates `to`, or the version before the active one, and notifies
/// every replica with `notification`.
pub async fn rollback(pool: &Pool, name: &str, to: Option<i32>, notification: &str) -> Result<i32> {
    let mut client = connection(pool).await?;
    let tx = locked(&mut client, name, "starting the rollback").await?;
    let target = match to {
        Some(version) => tx
            .query_opt(
                "SELECT version FROM geofn_handler_versions WHERE name = $1 AND version = $2",
                &[&name, &version],
            )
            .await
            .map_err(query("finding the version"))?
            .map(|row| row.get::<_, i32>(0))
            .ok_or_else(|| StoreError::NoSuchVersion(format!("{name} has no version {version}")))?,
        None => tx
            .query_opt(
                "SELECT max(v.version) FROM geofn_handler_versions v \
                 WHERE v.name = $1 AND v.version < \
                   (SELECT version FROM geofn_handler_versions WHERE name = $1 AND active) \
                 HAVING max(v.version) IS NOT NULL",
                &[&name],
            )
            .await
            .map_err(query("finding the previous version"))?
            .map(|row| row.get::<_, i32>(0))
            .ok_or_else(|| {
                StoreError::NoSuchVersion(format!(
                    "{name} has no active version with one before it"
                ))
            })?,
    };
    deactivate(&tx, name).await?;
    tx.execute(
        "UPDATE geofn_handler_versions SET active = true WHERE name = $1 AND version = $2",
        &[&name, &target],
    )
    .await
    .map_err(query("activating the version"))?;
    notify_and_commit(tx, notification, "committing the rollback").await?;
    Ok(target)
}

/// A pooled connection, or `Unavailable` when none can be had in time.
async fn connection(pool: &Pool) -> Result<Object> {
    pool.get()
        .await
        .map_err(|e| StoreError::Unavailable(e.to_string()))
}

/// A transaction that holds `name`'s lock until it ends: one push or
/// rollback per name at a time, so version numbers stay dense and unique
/// and exactly one version is active.
async fn locked<'a>(
    client: &'a mut Object,
    name: &str,
    starting: &'static str,
) -> Result<Transaction<'a>> {
    let tx = client.transaction().await.map_err(query(starting))?;
    tx.execute("SELECT pg_advisory_xact_lock(hashtext($1))", &[&name])
        .await
        .map_err(query("locking the handler name"))?;
    Ok(tx)
}

/// Leaves `name` with no active version. A statement of its own before
/// the activation: the one-active-per-name index is checked row by row.
async fn deactivate(tx: &Transaction<'_>, name: &str) -> Result<()> {
    tx.execute(
        "UPDATE geofn_handler_versions SET active = false WHERE name = $1 AND active",
        &[&name],
    )
    .await
    .map_err(query("deactivating the active version"))?;
    Ok(())
}

/// Queues the notification and commits: PostgreSQL delivers it only if the
/// commit succeeds, so no replica hears of a version that is not stored.
async fn notify_and_commit(
    tx: Transaction<'_>,
    notification: &str,
    committing: &'static str,
) -> Result<()> {
    tx.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &notification])
        .await
        .map_err(query("notifying replicas"))?;
    tx.commit().await.map_err(query(committing))
}

/// Every stored version, newest first.
pub async fn history(pool: &Pool) -> Result<Vec<Version>> {
    let client = connection(pool).await?;
    let rows = client
        .query(
            "SELECT name, version, sha256, coalesce(octet_length(component), size, 0), routes, \
             created_at, active, source \
             FROM geofn_handler_versions ORDER BY name, version DESC",
            &[],
        )
        .await
        .map_err(query("reading the handler history"))?;
    Ok(rows
        .iter()
        .map(|row| Version {
            name: row.get(0),
            version: row.get(1),
            sha256: row.get(2),
            size: row.get(3),
            routes: row.get(4),
            created_at: row
                .get::<_, OffsetDateTime>(5)
                .format(&Rfc3339)
                .unwrap_or_default(),
            active: row.get(6),
            source: row.get(7),
        })
        .collect())
}
