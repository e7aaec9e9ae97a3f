//! A handler's migrations, run on a connection of their own as its role.

use super::{DbPlan, HandlerDatabases, MIGRATION_TIMEOUT, PrepareError, RoleMode, SLOW_CONNECT};
use crate::handler_migrations::{self, MigrationError};
use crate::pool::CONNECT_TIMEOUT;
use crate::roles::ident;

impl HandlerDatabases {
    /// Applies `plan`'s pending migrations on a connection of their own,
    /// logged in as the handler's role (the host's, in the host-role mode).
    /// With none pending (applied by another replica, or by this one for an
    /// earlier version) it opens no connection: a fleet push swaps in
    /// without a name lookup, a TLS handshake and a login.
    pub(super) async fn migrate(&self, plan: &DbPlan<'_>) -> Result<(), PrepareError> {
        if plan.migrations.is_empty()
            || !handler_migrations::any_pending(&self.host_pool, plan.handler, plan.migrations)
                .await?
        {
            return Ok(());
        }
        let role = self.role(plan.handler);
        let failed = |message: String| MigrationError::Database {
            handler: plan.handler.to_owned(),
            message,
        };
        if self.mode == RoleMode::HostRole {
            let client = self.host_client().await?;
            client
                .batch_execute(&format!(
                    "CREATE SCHEMA IF NOT EXISTS {}",
                    ident(&role.schema)
                ))
                .await
                .map_err(|e| failed(e.to_string()))?;
        }
        let mut config = self.connection_config(
            &self.primary.base,
            (self.mode == RoleMode::PerHandler).then_some(&role),
            &format!("geofn-migrate:{}", plan.handler),
            MIGRATION_TIMEOUT,
            None,
        );
        config.connect_timeout(CONNECT_TIMEOUT);
        let connecting = std::time::Instant::now();
        let (mut client, connection) = crate::resolve::connect(&config, self.tls.clone())
            .await
            .map_err(|e| failed(format!("connecting as its role: {e}")))?;
        // A swap waits for this connection (the name looked up hedged, then
        // each address in turn); when it is slow, say so.
        let took = connecting.elapsed();
        if took > SLOW_CONNECT {
            tracing::warn!(
                handler.name = plan.handler,
                connect.ms = took.as_millis() as u64,
                "connecting for the handler's migrations was slow"
            );
        }
        let driver = tokio::spawn(connection);
        let applied =
            handler_migrations::apply(&self.host_pool, &mut client, &role, plan.migrations).await;
        drop(client);
        let _ = driver.await;
        let applied = applied?;
        if !applied.now.is_empty() {
            tracing::info!(
                handler.name = plan.handler,
                migrations.applied = ?applied.now,
                migrations.already = applied.before.len(),
                "handler migrations applied"
            );
        }
        Ok(())
    }
}
