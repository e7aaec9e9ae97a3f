//! The database side of a handler set, made ready before it serves: every
//! handler's role and schema, then their migrations, then what each may
//! reach of the others' (in that order across the whole set, so a handler
//! may read the tables another one's migrations create in the same set),
//! and a connection pool per handler.
//!
//! What was done is remembered for the life of the process, so a reload
//! that changes nothing of it costs no round trip.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::Pool;
use geofn_contract::access::DatabaseAccess;
use geofn_contract::embedded::Migration;
use tokio::sync::Semaphore;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::handler_migrations::{self, MigrationError};
use crate::handler_pools::HandlerDb;
use crate::host_role::HostRole;
use crate::roles::{self, HandlerRole, RoleError};
use crate::secret::Secret;

mod migrations;
mod pools;

/// Idle handler connections older than this are closed, so the connections
/// a burst opened do not sit on the server's `max_connections` forever.
const IDLE_CLOSE_AFTER: Duration = Duration::from_secs(60);
/// How often idle connections are looked for.
const IDLE_SWEEP_EVERY: Duration = Duration::from_secs(15);
/// First PostgreSQL with `client_connection_check_interval` (14).
const CONNECTION_CHECK_SINCE: i32 = 140_000;
/// How often the server checks, during a long statement, that the host is
/// still connected: a statement of a host that died stops within this.
const CONNECTION_CHECK_MS: u64 = 1000;
/// How long one migration may run: building an index on a large table
/// takes minutes, far beyond any request's deadline.
pub const MIGRATION_TIMEOUT: Duration = Duration::from_secs(300);
/// A connection that takes longer than this to open is reported.
const SLOW_CONNECT: Duration = Duration::from_secs(1);

/// Whose role handlers' SQL runs as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleMode {
    /// Each handler its own role (the default).
    PerHandler,
    /// Every handler as the host's own role: only with
    /// `--unsafe-handler-sql-as-host-role`.
    HostRole,
}

/// How the handlers' connections are configured.
#[derive(Debug, Clone)]
pub struct HandlerDbSettings {
    /// Connections of all handlers together.
    pub total: usize,
    /// Wait at most this long for a connection.
    pub wait: Duration,
    /// Whose role handlers' SQL runs as.
    pub mode: RoleMode,
}

/// What one handler needs of the database before it serves.
#[derive(Debug, Clone)]
pub struct DbPlan<'a> {
    /// The handler.
    pub handler: &'a str,
    /// Other handlers' schemas or tables it uses.
    pub access: &'a DatabaseAccess,
    /// Its schema migrations, in order.
    pub migrations: &'a [Migration],
}

/// Why a set's database side could not be made ready.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    /// A role could not be set up or granted what its manifest lists.
    #[error(transparent)]
    Role(#[from] RoleError),
    /// A migration failed or changed.
    #[error(transparent)]
    Migration(#[from] MigrationError),
}

/// What this process has already done, by handler.
#[derive(Default)]
struct Done {
    roles: HashSet<String>,
    migrations: HashMap<String, Vec<(String, String)>>,
    grants: HashMap<String, DatabaseAccess>,
}

/// Roles, migrations, grants and pools of every handler.
pub struct HandlerDatabases {
    host_pool: Pool,
    tls: MakeRustlsConnect,
    host: HostRole,
    secret: Secret,
    mode: RoleMode,
    total_size: usize,
    wait: Duration,
    done: tokio::sync::Mutex<Done>,
    primary: Server,
    replica: Option<Server>,
}

/// One database server's side of the handler pools.
struct Server {
    /// How to reach it (as the host; each pool swaps in its handler's role).
    base: tokio_postgres::Config,
    /// Bounds the connections of all handlers together on this server.
    total: Arc<Semaphore>,
    /// Each handler's pool on this server.
    pools: tokio::sync::Mutex<HashMap<String, Arc<HandlerDb>>>,
}

impl Server {
    fn new(base: tokio_postgres::Config, total: usize) -> Self {
        Self {
            base,
            total: Arc::new(Semaphore::new(total)),
            pools: tokio::sync::Mutex::default(),
        }
    }
}

impl HandlerDatabases {
    /// Handler pools next to the host's own `host_pool`, connecting like
    /// `base` (host, port, database, TLS) but as each handler's role, with
    /// passwords derived from `secret`; and, when there is a `read_base`,
    /// pools on the read replica too (the same roles: a streaming replica
    /// has the primary's).
    pub fn new(
        host_pool: Pool,
        base: tokio_postgres::Config,
        read_base: Option<tokio_postgres::Config>,
        tls: MakeRustlsConnect,
        host: HostRole,
        secret: Secret,
        settings: &HandlerDbSettings,
    ) -> Arc<Self> {
        let databases = Arc::new(Self {
            host_pool,
            tls,
            host,
            secret,
            mode: settings.mode,
            total_size: settings.total,
            wait: settings.wait,
            done: tokio::sync::Mutex::default(),
            primary: Server::new(base, settings.total),
            replica: read_base.map(|base| Server::new(base, settings.total)),
        });
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let weak = Arc::downgrade(&databases);
            runtime.spawn(async move {
                loop {
                    tokio::time::sleep(IDLE_SWEEP_EVERY).await;
                    let Some(databases) = weak.upgrade() else {
                        return;
                    };
                    let servers = std::iter::once(&databases.primary).chain(&databases.replica);
                    for server in servers {
                        for db in server.pools.lock().await.values() {
                            db.close_idle(IDLE_CLOSE_AFTER);
                        }
                    }
                }
            });
        }
        databases
    }

    /// Connections of all handlers together.
    pub fn total_size(&self) -> usize {
        self.total_size
    }

    /// The host's own role.
    pub fn host(&self) -> &HostRole {
        &self.host
    }

    /// Whose role handlers' SQL runs as.
    pub fn mode(&self) -> RoleMode {
        self.mode
    }

    /// The secret handler passwords and fleet notifications are derived from.
    pub fn secret(&self) -> &Secret {
        &self.secret
    }

    fn role(&self, handler: &str) -> HandlerRole {
        HandlerRole::new(handler, &self.host.database, &self.secret)
    }

    /// Makes the database ready for `plans`, a whole handler set: roles
    /// and schemas of all, then the migrations of each, then the grants of
    /// each. Does again only what changed since this process last did it.
    pub async fn prepare(&self, plans: &[DbPlan<'_>]) -> Result<(), PrepareError> {
        let mut done = self.done.lock().await;
        if self.mode == RoleMode::PerHandler {
            for plan in plans {
                if done.roles.contains(plan.handler) {
                    continue;
                }
                if !self.host.can_create_roles() {
                    return Err(RoleError::CannotCreateRoles {
                        host: self.host.name.clone(),
                    }
                    .into());
                }
                let role = self.role(plan.handler);
                roles::provision(&mut self.host_client().await?, &role).await?;
                tracing::info!(handler.name = plan.handler, db.role = %role.role, "handler role ready");
                done.roles.insert(plan.handler.to_owned());
            }
        }
        for plan in plans {
            let signature: Vec<(String, String)> = plan
                .migrations
                .iter()
                .map(|m| (m.id.clone(), handler_migrations::checksum(m)))
                .collect();
            if done.migrations.get(plan.handler) == Some(&signature) {
                continue;
            }
            self.migrate(plan).await?;
            done.migrations.insert(plan.handler.to_owned(), signature);
        }
        if self.mode == RoleMode::PerHandler {
            for plan in plans {
                if done.grants.get(plan.handler) == Some(plan.access) {
                    continue;
                }
                let role = self.role(plan.handler);
                let mut client = self.host_client().await?;
                crate::grants::apply(&mut client, &role, plan.access, &self.host.database).await?;
                tracing::info!(
                    handler.name = plan.handler,
                    db.read = ?plan.access.read,
                    db.write = ?plan.access.write,
                    "handler grants set"
                );
                done.grants
                    .insert(plan.handler.to_owned(), plan.access.clone());
            }
        }
        Ok(())
    }

    async fn host_client(&self) -> Result<deadpool_postgres::Object, RoleError> {
        self.host_pool
            .get()
            .await
            .map_err(|e| RoleError::Unavailable(e.to_string()))
    }
}
