//! One connection pool per handler, logged in as that handler's role.
//!
//! A handler's pool is its share of the database: it holds at most
//! `db_connections` connections, so a handler flooded with requests or
//! stuck on slow queries waits on its own pool (and its requests get 503)
//! while its neighbours still find connections. All handler pools together
//! hold at most `--pool-size` connections at once. Each connection carries
//! the handler's deadline as `statement_timeout`, so no statement outlives
//! its call by more than the time the server takes to notice.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use deadpool_postgres::{
    Manager, ManagerConfig, Object, Pool, PoolError, RecyclingMethod, Runtime, Timeouts,
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_postgres::error::SqlState;
use tokio_postgres_rustls::MakeRustlsConnect;

use super::pool::CONNECT_TIMEOUT;
use super::roles::{self, HandlerRole, HostRole, RoleError, Secret};
use crate::registry::manifest::DatabaseAccess;
use crate::telemetry::metrics as m;

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

/// Whose role handlers' SQL runs as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleMode {
    /// Each handler its own role (the default).
    PerHandler,
    /// Every handler as the host's own role: only with
    /// `--unsafe-handler-sql-as-host-role`.
    HostRole,
}

/// What building handler pools needs, shared by every handler.
pub struct HandlerDatabases {
    host_pool: Pool,
    base: tokio_postgres::Config,
    tls: MakeRustlsConnect,
    host: HostRole,
    secret: Secret,
    mode: RoleMode,
    total: Arc<Semaphore>,
    total_size: usize,
    wait: Duration,
    pools: tokio::sync::Mutex<HashMap<String, Arc<HandlerDb>>>,
    provisioned: tokio::sync::Mutex<HashMap<String, DatabaseAccess>>,
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

impl HandlerDatabases {
    /// Handler pools next to the host's own `host_pool`, connecting like
    /// `base` (host, port, database, TLS) but as each handler's role, with
    /// passwords derived from `secret`.
    pub fn new(
        host_pool: Pool,
        base: tokio_postgres::Config,
        tls: MakeRustlsConnect,
        host: HostRole,
        secret: Secret,
        settings: &HandlerDbSettings,
    ) -> Arc<Self> {
        let databases = Arc::new(Self {
            host_pool,
            base,
            tls,
            host,
            secret,
            mode: settings.mode,
            total: Arc::new(Semaphore::new(settings.total)),
            total_size: settings.total,
            wait: settings.wait,
            pools: tokio::sync::Mutex::default(),
            provisioned: tokio::sync::Mutex::default(),
        });
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let weak = Arc::downgrade(&databases);
            runtime.spawn(async move {
                loop {
                    tokio::time::sleep(IDLE_SWEEP_EVERY).await;
                    let Some(databases) = weak.upgrade() else {
                        return;
                    };
                    for db in databases.pools.lock().await.values() {
                        db.pool
                            .retain(|_, metrics| metrics.last_used() < IDLE_CLOSE_AFTER);
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

    /// Every handler pool in use, by handler name.
    pub async fn pools(&self) -> Vec<Arc<HandlerDb>> {
        self.pools.lock().await.values().cloned().collect()
    }

    /// The database side of `handler`: its role set up for `access`, and
    /// a pool of `share` connections whose statements time out after
    /// `deadline`. Reuses the pool it gave before when nothing changed.
    pub async fn for_handler(
        &self,
        handler: &str,
        access: &DatabaseAccess,
        share: usize,
        deadline: Duration,
    ) -> Result<Arc<HandlerDb>, RoleError> {
        let key = PoolKey {
            access: access.clone(),
            share,
            deadline,
        };
        let mut pools = self.pools.lock().await;
        if let Some(existing) = pools.get(handler)
            && existing.key == key
        {
            return Ok(existing.clone());
        }
        let role = match self.mode {
            RoleMode::PerHandler => {
                let role = HandlerRole::new(handler, &self.host.database, &self.secret);
                self.provision(&role, access).await?;
                Some(role)
            }
            RoleMode::HostRole => None,
        };
        let db = Arc::new(HandlerDb {
            handler: Arc::from(handler),
            role: role
                .as_ref()
                .map_or_else(|| self.host.name.clone(), |r| r.role.clone()),
            pool: self.handler_pool(handler, role.as_ref(), share, deadline),
            total: self.total.clone(),
            wait: self.wait,
            tls: self.tls.clone(),
            repair: role.map(|role| (self.host_pool.clone(), role)),
            key,
        });
        pools.insert(handler.to_owned(), db.clone());
        Ok(db)
    }

    async fn provision(
        &self,
        role: &HandlerRole,
        access: &DatabaseAccess,
    ) -> Result<(), RoleError> {
        let mut provisioned = self.provisioned.lock().await;
        if provisioned.get(&role.handler) == Some(access) {
            return Ok(());
        }
        if !self.host.can_create_roles() {
            return Err(RoleError::CannotCreateRoles {
                host: self.host.name.clone(),
            });
        }
        let mut client = self
            .host_pool
            .get()
            .await
            .map_err(|e| RoleError::Unavailable(e.to_string()))?;
        roles::provision(&mut client, role, access).await?;
        tracing::info!(
            handler.name = %role.handler,
            db.role = %role.role,
            db.schema = %role.schema,
            db.read = ?access.read,
            db.write = ?access.write,
            "handler role ready"
        );
        provisioned.insert(role.handler.clone(), access.clone());
        Ok(())
    }

    fn handler_pool(
        &self,
        handler: &str,
        role: Option<&HandlerRole>,
        share: usize,
        deadline: Duration,
    ) -> Pool {
        let mut config = self.base.clone();
        if let Some(role) = role {
            config.user(&role.role).password(role.password.as_bytes());
        }
        config.application_name(format!("geofn:{handler}"));
        let mut options = config.get_options().unwrap_or_default().to_owned();
        options.push_str(&format!(" -c statement_timeout={}", deadline.as_millis()));
        if self.host.server_version >= CONNECTION_CHECK_SINCE {
            options.push_str(&format!(
                " -c client_connection_check_interval={CONNECTION_CHECK_MS}"
            ));
        }
        config.options(options.trim_start());
        let manager = Manager::from_config(
            config,
            self.tls.clone(),
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        Pool::builder(manager)
            .max_size(share)
            .timeouts(Timeouts {
                wait: Some(self.wait),
                create: Some(CONNECT_TIMEOUT),
                recycle: Some(CONNECT_TIMEOUT),
            })
            .runtime(Runtime::Tokio1)
            .build()
            .expect("a pool with a runtime and positive size builds")
    }
}

/// What a handler pool was built for: a change means a new pool.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PoolKey {
    access: DatabaseAccess,
    share: usize,
    deadline: Duration,
}

/// One handler's share of the database.
pub struct HandlerDb {
    handler: Arc<str>,
    role: String,
    pool: Pool,
    total: Arc<Semaphore>,
    wait: Duration,
    tls: MakeRustlsConnect,
    /// The host's pool and the handler's role, to restore its login if the
    /// handler changed its own password.
    repair: Option<(Pool, HandlerRole)>,
    key: PoolKey,
}

/// A handler pool's connections at one moment.
#[derive(Debug, Clone, Copy)]
pub struct Usage {
    /// Open.
    pub open: usize,
    /// Checked out.
    pub in_use: usize,
    /// The most it may hold.
    pub share: usize,
    /// Requests waiting for one.
    pub waiting: usize,
}

/// A connection checked out for one handler, with its place in the total.
pub struct Connection {
    /// The pooled connection; back to the pool when dropped.
    pub client: Object,
    _total: OwnedSemaphorePermit,
}

/// Why no connection could be had.
#[derive(Debug, thiserror::Error)]
pub enum CheckoutError {
    /// The handler already holds its whole share.
    #[error(
        "the {handler} handler already holds its {share} database connections (its share of \
         the pool); none became free within {wait:?}"
    )]
    ShareExhausted {
        /// Handler name.
        handler: Arc<str>,
        /// Its share.
        share: usize,
        /// How long it waited.
        wait: Duration,
    },
    /// Every handler together holds the whole pool.
    #[error("every database connection of this replica is in use; none became free within {0:?}")]
    PoolExhausted(Duration),
    /// No connection could be made.
    #[error("cannot connect to the database: {0}")]
    Connect(String),
}

impl HandlerDb {
    /// A pool for `handler` that connects as `config` says, with no role
    /// management: for benchmarks and tests that never reach PostgreSQL.
    pub fn unmanaged(handler: &str, config: tokio_postgres::Config, share: usize) -> Arc<Self> {
        let tls = super::tls::connector(&super::tls::TlsSettings::default())
            .expect("the default TLS settings build");
        let manager = Manager::from_config(
            config,
            tls.clone(),
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(share)
            .runtime(Runtime::Tokio1)
            .build()
            .expect("a pool with a runtime and positive size builds");
        Arc::new(Self {
            handler: Arc::from(handler),
            role: String::new(),
            pool,
            total: Arc::new(Semaphore::new(share)),
            wait: Duration::from_secs(1),
            tls,
            repair: None,
            key: PoolKey {
                access: DatabaseAccess::default(),
                share,
                deadline: Duration::ZERO,
            },
        })
    }

    /// The handler this pool belongs to.
    pub fn handler(&self) -> &Arc<str> {
        &self.handler
    }

    /// The database role its connections log in as.
    pub fn role(&self) -> &str {
        &self.role
    }

    /// Its connections now.
    pub fn usage(&self) -> Usage {
        let status = self.pool.status();
        Usage {
            open: status.size,
            in_use: status.size.saturating_sub(status.available),
            share: status.max_size,
            waiting: status.waiting,
        }
    }

    /// A connection for one call: first from the handler's own share, then
    /// a place in the process-wide total, within the pool wait together.
    pub async fn checkout(&self) -> Result<Connection, CheckoutError> {
        let started = Instant::now();
        let client = match self.pool.get().await {
            Ok(client) => client,
            Err(PoolError::Backend(err)) if err.code() == Some(&SqlState::INVALID_PASSWORD) => {
                // The handler changed its own password: set it back once.
                self.restore_login().await;
                self.pool.get().await.map_err(|e| self.checkout_error(e))?
            }
            Err(err) => return Err(self.checkout_error(err)),
        };
        let left = self.wait.saturating_sub(started.elapsed());
        let total = tokio::time::timeout(left, self.total.clone().acquire_owned())
            .await
            .map_err(|_| CheckoutError::PoolExhausted(self.wait))?
            .map_err(|_| CheckoutError::PoolExhausted(self.wait))?;
        metrics::histogram!(m::POOL_WAIT, "handler" => self.handler.to_string())
            .record(started.elapsed().as_secs_f64());
        Ok(Connection {
            client,
            _total: total,
        })
    }

    fn checkout_error(&self, err: PoolError) -> CheckoutError {
        match err {
            PoolError::Timeout(deadpool_postgres::TimeoutType::Wait) => {
                metrics::counter!(m::DB_SHARE_EXHAUSTED, "handler" => self.handler.to_string())
                    .increment(1);
                CheckoutError::ShareExhausted {
                    handler: self.handler.clone(),
                    share: self.key.share,
                    wait: self.wait,
                }
            }
            PoolError::Timeout(_) => {
                CheckoutError::Connect("the database did not accept a connection in time".into())
            }
            PoolError::Backend(e) => CheckoutError::Connect(e.to_string()),
            other => CheckoutError::Connect(other.to_string()),
        }
    }

    async fn restore_login(&self) {
        let Some((host_pool, role)) = &self.repair else {
            return;
        };
        let restored = match host_pool.get().await {
            Ok(mut client) => roles::reset_login(&mut client, role)
                .await
                .map_err(|e| e.to_string()),
            Err(err) => Err(err.to_string()),
        };
        match restored {
            Ok(()) => tracing::warn!(
                handler.name = %self.handler,
                db.role = %role.role,
                "the handler's role refused its password (the handler changed it?); restored"
            ),
            Err(err) => tracing::error!(
                handler.name = %self.handler,
                error = %err,
                "the handler's role refused its password and restoring it failed"
            ),
        }
    }

    /// Takes back a connection whose call ended early: asks the server to
    /// cancel what it is running (if `busy`), waits until it says it is
    /// idle, clears session state (if `dirty`), and only then lets it go
    /// back to the pool; a connection that does not come back in time is
    /// closed instead.
    pub async fn recover(&self, connection: Connection, busy: bool, dirty: bool) {
        let Connection { client, _total } = connection;
        if busy {
            metrics::counter!(m::DB_CANCELLATIONS, "handler" => self.handler.to_string())
                .increment(1);
            if let Err(err) = client.cancel_token().cancel_query(self.tls.clone()).await {
                tracing::warn!(handler.name = %self.handler, error = %err, "cancelling a statement failed; closing its connection");
                drop(Object::take(client));
                return;
            }
        }
        let mut settle = String::from("SELECT 1");
        if dirty {
            settle = RESET_SESSION.to_owned();
        }
        match tokio::time::timeout(RECOVER_WITHIN, client.batch_execute(&settle)).await {
            Ok(Ok(())) => {
                tracing::debug!(handler.name = %self.handler, busy, dirty, "connection recovered");
            }
            Ok(Err(err)) => {
                tracing::warn!(handler.name = %self.handler, error = %err, "a connection did not recover; closing it");
                drop(Object::take(client));
            }
            Err(_) => {
                tracing::warn!(handler.name = %self.handler, "a connection stayed busy after its statement was cancelled; closing it");
                drop(Object::take(client));
            }
        }
    }
}

/// What a connection left with session state runs before it goes back to
/// the pool. Prepared statements are kept: they are the statement cache.
pub const RESET_SESSION: &str =
    "RESET ALL; SELECT pg_advisory_unlock_all(); CLOSE ALL; DISCARD TEMP; UNLISTEN *";

/// How long a cancelled or dirty connection may take to become idle and
/// clean before it is closed instead.
pub const RECOVER_WITHIN: Duration = Duration::from_secs(2);
