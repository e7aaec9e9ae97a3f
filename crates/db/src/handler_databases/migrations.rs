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
        let resolving = std::time::Instant::now();
        let addresses = resolved(&config).await;
        let resolve_ms = resolving.elapsed().as_millis() as u64;
        let connecting = std::time::Instant::now();
        let (mut client, connection) = config
            .connect(self.tls.clone())
            .await
            .map_err(|e| failed(format!("connecting as its role: {e}")))?;
        // A swap waits for this connection; when it, or resolving the
        // server's name just before, is slow (a resolver timing out, an
        // unreachable address tried first), say so.
        let took = connecting.elapsed();
        if took > SLOW_CONNECT || resolve_ms > SLOW_CONNECT.as_millis() as u64 {
            tracing::warn!(
                handler.name = plan.handler,
                connect.ms = took.as_millis() as u64,
                resolve.ms = resolve_ms,
                resolve.addresses = ?addresses,
                "resolving or connecting for the handler's migrations was slow"
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

/// The addresses the config's TCP hosts resolve to now, for a report of a
/// slow connection (resolution failures are reported as such).
async fn resolved(config: &tokio_postgres::Config) -> Vec<String> {
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let mut found = Vec::new();
    for host in config.get_hosts() {
        if let tokio_postgres::config::Host::Tcp(name) = host {
            match tokio::net::lookup_host((name.as_str(), port)).await {
                Ok(addresses) => found.extend(addresses.map(|a| a.to_string())),
                Err(err) => found.push(format!("{name}: {err}")),
            }
        }
    }
    found
}
