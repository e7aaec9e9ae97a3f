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

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime, Timeouts};
use tokio::sync::Semaphore;
use tokio_postgres_rustls::MakeRustlsConnect;

use super::handler_migrations::{self, MigrationError};
use super::handler_pools::{HandlerConnections, HandlerDb, PoolKey, Shared};
use super::pool::CONNECT_TIMEOUT;
use super::roles::{self, HandlerRole, HostRole, RoleError, Secret, ident};
use crate::registry::artifact::Migration;
use crate::registry::manifest::DatabaseAccess;

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
                .map(|m| (m.id.clone(), m.checksum()))
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
                super::grants::apply(&mut client, &role, plan.access, &self.host.database).await?;
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

    /// Applies `plan`'s pending migrations on a connection of their own,
    /// logged in as the handler's role (the host's, in the host-role mode).
    async fn migrate(&self, plan: &DbPlan<'_>) -> Result<(), PrepareError> {
        if plan.migrations.is_empty() {
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

    /// The pools of `handler`: `share` connections whose statements time
    /// out after `deadline`, on a search path that reaches `access`, on
    /// the primary and on the read replica if there is one. Reuses the
    /// pools it gave before when nothing of that changed.
    pub async fn pool(
        &self,
        handler: &str,
        access: &DatabaseAccess,
        share: usize,
        deadline: Duration,
    ) -> HandlerConnections {
        let (role, search_path) = match self.mode {
            RoleMode::PerHandler => (Some(self.role(handler)), None),
            // Without roles of their own, handlers' connections get the
            // search path their role would have had.
            RoleMode::HostRole => {
                let mut path = vec![ident(handler)];
                path.extend(
                    access
                        .read
                        .iter()
                        .chain(&access.write)
                        .filter(|e| !e.contains('.'))
                        .map(|e| ident(e)),
                );
                path.push("public".into());
                (None, Some(path.join(",")))
            }
        };
        let key = PoolKey {
            share,
            deadline,
            search_path,
        };
        let primary = self
            .pool_on(&self.primary, handler, role.as_ref(), &key)
            .await;
        let replica = match &self.replica {
            Some(server) => Some(self.pool_on(server, handler, role.as_ref(), &key).await),
            None => None,
        };
        HandlerConnections { primary, replica }
    }

    /// Whether handlers have pools on a read replica.
    pub fn has_replica(&self) -> bool {
        self.replica.is_some()
    }

    async fn pool_on(
        &self,
        server: &Server,
        handler: &str,
        role: Option<&HandlerRole>,
        key: &PoolKey,
    ) -> Arc<HandlerDb> {
        let mut pools = server.pools.lock().await;
        if let Some(existing) = pools.get(handler)
            && existing.key() == key
        {
            return existing.clone();
        }
        let config = self.connection_config(
            &server.base,
            role,
            &format!("geofn:{handler}"),
            key.deadline,
            key.search_path.as_deref(),
        );
        let manager = Manager::from_config(
            config,
            self.tls.clone(),
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(key.share)
            .timeouts(Timeouts {
                wait: Some(self.wait),
                create: Some(CONNECT_TIMEOUT),
                recycle: Some(CONNECT_TIMEOUT),
            })
            .runtime(Runtime::Tokio1)
            .build()
            .expect("a pool with a runtime and positive size builds");
        let db = Arc::new(HandlerDb::new(
            handler,
            role.map_or_else(|| self.host.name.clone(), |r| r.role.clone()),
            pool,
            Shared {
                total: server.total.clone(),
                wait: self.wait,
                tls: self.tls.clone(),
            },
            // A login restored on the primary reaches the replica by
            // replication; there a refused login most often means the role
            // is not replayed yet, which repairing would not help.
            role.filter(|_| std::ptr::eq(server, &self.primary))
                .map(|role| (self.host_pool.clone(), role.clone())),
            key.clone(),
        ));
        pools.insert(handler.to_owned(), db.clone());
        db
    }

    /// Connection settings as `role` (the host's own when `None`), with
    /// this statement timeout and, when given, search path.
    fn connection_config(
        &self,
        base: &tokio_postgres::Config,
        role: Option<&HandlerRole>,
        application: &str,
        statement_timeout: Duration,
        search_path: Option<&str>,
    ) -> tokio_postgres::Config {
        let mut config = base.clone();
        if let Some(role) = role {
            config.user(&role.role).password(role.password.as_bytes());
        }
        config.application_name(application);
        let mut options = config.get_options().unwrap_or_default().to_owned();
        options.push_str(&format!(
            " -c statement_timeout={}",
            statement_timeout.as_millis()
        ));
        if self.host.server_version >= CONNECTION_CHECK_SINCE {
            options.push_str(&format!(
                " -c client_connection_check_interval={CONNECTION_CHECK_MS}"
            ));
        }
        if let Some(path) = search_path {
            options.push_str(&format!(" -c search_path={path}"));
        }
        config.options(options.trim_start());
        config
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
