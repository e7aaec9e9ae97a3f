//! One handler's connection pool, logged in as that handler's role.
//!
//! A handler's pool is its share of the database: it holds at most
//! `db_connections` connections, so a handler flooded with requests or
//! stuck on slow queries waits on its own pool (and its requests get 503)
//! while its neighbours still find connections. All handler pools together
//! hold at most `--pool-size` connections at once. Each connection carries
//! the handler's deadline as `statement_timeout`, so no statement outlives
//! its call by more than the time the server takes to notice.

use std::sync::Arc;
use std::time::{Duration, Instant};

use deadpool_postgres::{
    Manager, ManagerConfig, Object, Pool, PoolError, RecyclingMethod, Runtime,
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_postgres::error::SqlState;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::held_claims::{HeldClaims, NONE};
use crate::roles::{self, HandlerRole};
use geofn_telemetry::metrics as m;

/// A handler's pools: the primary's, and the read replica's when the host
/// has one (same role, same share, on the replica's own connection bound).
#[derive(Clone)]
pub struct HandlerConnections {
    /// Writes, transactions, and reads when the replica cannot serve them.
    pub primary: Arc<HandlerDb>,
    /// Reads of GET and HEAD requests.
    pub replica: Option<Arc<HandlerDb>>,
}

impl HandlerConnections {
    /// Pools on the primary only.
    pub fn primary_only(primary: Arc<HandlerDb>) -> Self {
        Self {
            primary,
            replica: None,
        }
    }
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
    /// Whose claims each of its connections holds.
    claims: HeldClaims,
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

/// What every handler pool shares.
#[derive(Clone)]
pub struct Shared {
    /// Bounds the connections of all handlers together.
    pub total: Arc<Semaphore>,
    /// How long a request waits for a connection.
    pub wait: Duration,
    /// TLS for cancel requests.
    pub tls: MakeRustlsConnect,
}

/// What a handler pool was built for: a change means a new pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolKey {
    /// Connections it may hold.
    pub share: usize,
    /// Its statements' timeout.
    pub deadline: Duration,
    /// The search path its connections start with (in the host-role mode).
    pub search_path: Option<String>,
}

impl HandlerDb {
    /// A handler's pool: `pool` logs in as `role` (the host's own, in the
    /// host-role mode); `repair` can set the role's password again.
    pub fn new(
        handler: &str,
        role: String,
        pool: Pool,
        shared: Shared,
        repair: Option<(Pool, HandlerRole)>,
        key: PoolKey,
    ) -> Self {
        Self {
            handler: Arc::from(handler),
            role,
            pool,
            total: shared.total,
            wait: shared.wait,
            tls: shared.tls,
            repair,
            claims: HeldClaims::new(HELD_CLAIMS_PER_SHARE * key.share),
            key,
        }
    }

    /// What this pool was built for.
    pub fn key(&self) -> &PoolKey {
        &self.key
    }

    /// Closes idle connections unused for `idle`.
    pub fn close_idle(&self, idle: Duration) {
        self.pool.retain(|_, metrics| metrics.last_used() < idle);
    }

    /// A pool for `handler` that connects as `config` says, with no role
    /// management: for benchmarks and tests that never reach PostgreSQL.
    pub fn unmanaged(handler: &str, config: tokio_postgres::Config, share: usize) -> Arc<Self> {
        let tls = crate::tls::connector(&crate::tls::TlsSettings::default())
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
            claims: HeldClaims::new(HELD_CLAIMS_PER_SHARE * share),
            key: PoolKey {
                share,
                deadline: Duration::ZERO,
                search_path: None,
            },
        })
    }

    /// Whose claims `connection`'s session holds, if known (`NONE`: none).
    pub fn held_claims(&self, connection: &Connection) -> Option<Arc<str>> {
        self.claims.get(Object::id(&connection.client))
    }

    /// `connection`'s claims are about to change: not known until noted.
    pub fn forget_claims(&self, connection: &Connection) {
        self.claims.forget(Object::id(&connection.client));
    }

    /// `connection`'s session holds `claims` now.
    pub fn note_claims(&self, connection: &Connection, claims: Arc<str>) {
        self.claims.note(Object::id(&connection.client), claims);
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

    /// Takes back a connection that carries something: asks the server to
    /// cancel what it is running (if busy), rolls back an open transaction,
    /// clears session state, waits until the server says it is idle, and
    /// only then lets it go back to the pool; a connection that does not
    /// come back in time is closed instead.
    pub async fn recover(&self, connection: Connection, leftover: Leftover) {
        let Connection { client, _total } = connection;
        if leftover.busy {
            metrics::counter!(m::DB_CANCELLATIONS, "handler" => self.handler.to_string())
                .increment(1);
            if let Err(err) = client.cancel_token().cancel_query(self.tls.clone()).await {
                tracing::warn!(handler.name = %self.handler, error = %err, "cancelling a statement failed; closing its connection");
                drop(Object::take(client));
                return;
            }
        }
        let mut settle = Vec::new();
        if leftover.in_transaction {
            settle.push("ROLLBACK");
        }
        settle.push(if leftover.dirty {
            RESET_SESSION
        } else {
            "SELECT 1"
        });
        match tokio::time::timeout(RECOVER_WITHIN, client.batch_execute(&settle.join("; "))).await {
            Ok(Ok(())) => {
                if leftover.dirty {
                    // RESET ALL cleared whatever claims the session held.
                    self.claims.note(Object::id(&client), Arc::from(NONE));
                }
                tracing::debug!(handler.name = %self.handler, ?leftover, "connection recovered");
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

/// What a connection handed back still carries.
#[derive(Debug, Clone, Copy, Default)]
pub struct Leftover {
    /// A statement is still running on it.
    pub busy: bool,
    /// It has session state (settings, locks, temporary tables, cursors).
    pub dirty: bool,
    /// A transaction is open on it.
    pub in_transaction: bool,
}

impl Leftover {
    /// Whether it needs anything before it can be reused.
    pub fn any(&self) -> bool {
        self.busy || self.dirty || self.in_transaction
    }
}

/// What a connection left with session state runs before it goes back to
/// the pool. Prepared statements are kept: they are the statement cache.
pub const RESET_SESSION: &str =
    "RESET ALL; SELECT pg_advisory_unlock_all(); CLOSE ALL; DISCARD TEMP; UNLISTEN *";

/// Connections whose claims are remembered, per connection of the share
/// (connections come and go; the oldest are forgotten).
const HELD_CLAIMS_PER_SHARE: usize = 4;

/// How long a cancelled or dirty connection may take to become idle and
/// clean before it is closed instead.
pub const RECOVER_WITHIN: Duration = Duration::from_secs(2);
