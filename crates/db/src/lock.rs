//! Advisory locks that make replicas doing the same DDL at once take turns.

/// A transaction holding the advisory lock `key` until it ends, so that
/// replicas doing the same DDL at once take turns, with PostgreSQL's
/// "already exists, skipping" notices (expected on every start but the
/// first) kept out of the log.
pub async fn locked_transaction(
    client: &mut deadpool_postgres::Object,
    key: i64,
) -> Result<deadpool_postgres::Transaction<'_>, tokio_postgres::Error> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&key])
        .await?;
    tx.batch_execute("SET LOCAL client_min_messages = warning")
        .await?;
    Ok(tx)
}
