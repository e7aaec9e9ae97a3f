//! The connection pool: built once, checked at start, shared by every request.

use std::time::{Duration, Instant};

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime, Timeouts};
use tokio_postgres::error::SqlState;

use crate::resolve::HedgedConnect;
use crate::start::StartError;
use crate::target::redacted;
use crate::tls::TlsSettings;

/// Connections per host process when not configured: enough to keep two
/// cores busy while some requests wait on PostgreSQL, few enough that three
/// replicas stay well under PostgreSQL's default `max_connections` of 100.
pub const DEFAULT_POOL_SIZE: usize = 16;
/// How long a request waits for a free connection before its guest gets
/// `db-error::unavailable` (and the client a 503).
pub const DEFAULT_POOL_WAIT: Duration = Duration::from_secs(5);
/// How long opening one new connection may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long start-up keeps retrying an unreachable server (compose and
/// Kubernetes start the database and the host side by side).
pub const DEFAULT_START_DEADLINE: Duration = Duration::from_secs(30);
/// Pause between start-up connection attempts.
const RETRY_PAUSE: Duration = Duration::from_millis(250);

/// Pool sizing and timeouts.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    /// Maximum open connections.
    pub max_size: usize,
    /// Wait for a free connection at most this long.
    pub wait: Duration,
    /// Keep retrying an unreachable server at start for this long.
    pub start_deadline: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_size: DEFAULT_POOL_SIZE,
            wait: DEFAULT_POOL_WAIT,
            start_deadline: DEFAULT_START_DEADLINE,
        }
    }
}

/// Builds the pool, waits until the server answers, checks PostGIS can be
/// had and migrates the schema. Fails fast on errors retrying cannot fix.
pub async fn connect(
    mut config: tokio_postgres::Config,
    tls: &TlsSettings,
    settings: &PoolSettings,
) -> Result<Pool, StartError> {
    let target = format!("{} (sslmode {:?})", redacted(&config), tls.mode);
    config.ssl_mode(tls.mode.wire_mode());
    let connector = crate::tls::connector(tls)?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    if config.get_application_name().is_none() {
        config.application_name("geofn");
    }
    // JIT compilation pays off for long analytic queries and costs 10-100 ms
    // on the short ones an API runs; keep latency predictable unless the
    // operator set it explicitly.
    let options = config.get_options().unwrap_or_default().to_owned();
    if !options.contains("jit") {
        config.options(format!("{options} -c jit=off").trim_start());
    }
    let manager = Manager::from_connect(
        config,
        HedgedConnect { tls: connector },
        ManagerConfig {
            // Fast: a broken connection shows itself on first use and the
            // guest gets `unavailable`; no round trip per checkout.
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let pool = Pool::builder(manager)
        .max_size(settings.max_size)
        .timeouts(Timeouts {
            wait: Some(settings.wait),
            create: Some(CONNECT_TIMEOUT),
            recycle: Some(CONNECT_TIMEOUT),
        })
        .runtime(Runtime::Tokio1)
        .build()
        .map_err(|e| StartError::Pool(e.to_string()))?;

    let started = Instant::now();
    let mut client = loop {
        match pool.get().await {
            Ok(client) => break client,
            Err(deadpool_postgres::PoolError::Backend(err)) => {
                if !is_transient(&err) {
                    return Err(StartError::Refused {
                        target,
                        source: err,
                    });
                }
                if started.elapsed() >= settings.start_deadline {
                    return Err(StartError::Unreachable {
                        target,
                        waited: started.elapsed(),
                        source: err,
                    });
                }
                tracing::info!(db.target = %target, error = %err, "waiting for PostgreSQL");
                tokio::time::sleep(RETRY_PAUSE).await;
            }
            Err(other) => return Err(StartError::Pool(other.to_string())),
        }
    };
    let version: String = client
        .query_one("SHOW server_version", &[])
        .await
        .map_err(|source| StartError::Query {
            context: "reading the server version",
            source,
        })?
        .get(0);
    crate::migrate::migrate(&mut client, &target).await?;
    let postgis: String = client
        .query_one(
            "SELECT extversion FROM pg_extension WHERE extname = 'postgis'",
            &[],
        )
        .await
        .map_err(|source| StartError::Query {
            context: "reading the PostGIS version",
            source,
        })?
        .get(0);
    tracing::info!(
        db.target = %target,
        db.server_version = %version,
        db.postgis_version = %postgis,
        db.pool_size = settings.max_size,
        "database ready"
    );
    Ok(pool)
}

/// Whether a connection error may go away by itself (server starting, network).
fn is_transient(err: &tokio_postgres::Error) -> bool {
    match err.code() {
        None => true,
        Some(code) => [
            SqlState::CANNOT_CONNECT_NOW,
            SqlState::TOO_MANY_CONNECTIONS,
            SqlState::ADMIN_SHUTDOWN,
            SqlState::CRASH_SHUTDOWN,
        ]
        .contains(code),
    }
}
