//! From configuration to a ready [`AppState`], and the background tasks
//! that run beside the server.

use std::sync::Arc;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use geofn_auth::refusal::Refusal;
use geofn_auth::verifier::Verifier;
use geofn_db::Pool;
use geofn_db::handler_databases::{HandlerDatabases, RoleMode};
use geofn_db::host_role::HostRole;
use geofn_db::pool::CONNECT_TIMEOUT;
use geofn_db::replica::{Fallback, ReadRouter};
use geofn_db::roles::RoleError;
use geofn_db::secret::Secret;
use geofn_db::target::redacted;
use geofn_db::tls::connector;
use geofn_handler_set::build::{build, load_dir};
use geofn_handler_set::error::LoadError;
use geofn_handler_set::fleet::overlay::Fleet;
use geofn_handler_set::loader::Loader;
use geofn_handler_set::reload::{ReloadStats, Reloader};
use geofn_handler_set::set::{HandlerSet, Registry};
use geofn_handler_set::snapshot::read_snapshot;
use geofn_handler_set::variables::VariableSources;
use geofn_http::admission::Admission;
use geofn_http::{AppState, Shared};
use geofn_oci::Registry as OciRegistry;
use geofn_runtime::budget::MemoryBudget;
use geofn_runtime::outbound::OutboundSettings;
use geofn_runtime::{MAX_CONCURRENT_INSTANCES, Runtime};
use geofn_telemetry::metrics::{self as m, Exporter};

use crate::config::{Database, ServerArgs};

/// Connections of the host's own pool: readiness checks, fleet pushes and
/// setting up handler roles. Handlers never use it.
pub const HOST_POOL_SIZE: usize = 4;

/// Builds the engine, connects to the database (migrating the host's
/// tables), sets up every handler's role and loads the handlers, failing
/// with a message that says what to fix.
pub async fn build_state(server: &ServerArgs, database: Database) -> anyhow::Result<AppState> {
    anyhow::ensure!(
        (1..=MAX_CONCURRENT_INSTANCES as usize).contains(&server.max_in_flight),
        "--max-in-flight must be between 1 and {MAX_CONCURRENT_INSTANCES} (instance slots)"
    );
    anyhow::ensure!(server.pool_size >= 1, "--pool-size must be at least 1");
    // First: whatever is counted while starting must reach /metrics.
    let metrics = m::install();
    m::count_per_handler(m::AUTH_REFUSED, "reason", Refusal::LABELS);
    m::zero_counters(m::READ_FALLBACKS, "reason", Fallback::LABELS);
    m::zero_counters(m::SWAPS_REJECTED, "reason", LoadError::REASONS);
    m::zero_counters(m::OCI_PULLS, "result", geofn_oci::OciError::RESULTS);
    let settings = server.runtime_settings();
    if let Some(dir) = &settings.cache_dir {
        tracing::info!(cache.dir = %dir.display(), "compiled components are cached");
    }
    let runtime = Arc::new(
        Runtime::new(&settings).map_err(|e| anyhow::anyhow!("creating the wasm engine: {e:#}"))?,
    );
    let target = redacted(&database.config);
    let mut host_settings = server.pool_settings();
    host_settings.max_size = HOST_POOL_SIZE;
    let pool = geofn_db::pool::connect(database.config.clone(), &database.tls, &host_settings)
        .await
        .with_context(|| format!("preparing the database at {target}"))?;
    let (host, secret) = {
        let client = pool
            .get()
            .await
            .with_context(|| format!("connecting to {target}"))?;
        let host = HostRole::inspect(&client)
            .await
            .context("reading the host's database role")?;
        let secret = Secret::load(&client)
            .await
            .context("reading the host's secret")?;
        (host, secret)
    };
    let mode = role_mode(server, &host)?;
    let reads = match &database.read {
        Some(read) => Some(read_replica(server, &database, read, &pool)?),
        None => None,
    };
    let databases = HandlerDatabases::new(
        pool.clone(),
        database.config.clone(),
        database.read.clone(),
        connector(&database.tls)?,
        host,
        secret.clone(),
        &server.handler_db_settings(mode),
    );
    let budget = Arc::new(MemoryBudget::new(
        server.memory_budget_bytes(),
        server.handler_memory_share_percent,
        server.memory_wait(),
    ));
    tracing::info!(
        memory.budget_mib = budget.bytes() >> 20,
        memory.handler_share_mib = budget.share_bytes() >> 20,
        "memory budget"
    );
    let oci = server.oci.settings(settings.cache_dir.as_deref());
    let oci_registry = Arc::new(OciRegistry::new(&oci).context("setting up the OCI client")?);
    let loader = Loader {
        runtime,
        databases,
        budget,
        defaults: server.default_limits(),
        registry: oci_registry.clone(),
        variables: VariableSources {
            dir: server.vars_dir.clone(),
        },
        outbound: OutboundSettings {
            tls: Arc::new(
                geofn_runtime::outbound::tls::client_config(server.outbound_ca_file.as_deref())
                    .map_err(anyhow::Error::msg)?,
            ),
            idle_per_host: server.outbound_idle_per_host,
        },
    };
    let handlers = load_dir(&loader, &server.handlers)
        .await
        .with_context(|| format!("loading handlers from {}", server.handlers.display()))?;
    // Pushed versions replace the directory's; compile them now rather
    // than serve the directory's versions until the first reload.
    let fleet = Arc::new(Fleet::new(pool.clone(), secret, oci_registry));
    let handlers = match with_pushed(&loader, server, &fleet, &handlers).await {
        Ok(Some(merged)) => merged,
        Ok(None) => handlers,
        Err(err) => {
            tracing::warn!(error = %err, "pushed handlers not loaded at start; the reload loop retries");
            handlers
        }
    };
    tracing::info!(
        handlers = handlers.handlers().len(),
        dir = %server.handlers.display(),
        "handlers loaded"
    );
    let reload = Arc::new(ReloadStats::new(&handlers));
    let registry = Arc::new(Registry::new(handlers));
    spawn_idle_sweeper(&registry);
    let admission = Arc::new(Admission::new(
        server.max_in_flight,
        std::time::Duration::from_millis(server.queue_wait_ms),
    ));
    let auth = match server.auth.settings() {
        Some(settings) => {
            let location = settings.keys.to_string();
            let verifier = Verifier::start(settings).await.map_err(|err| {
                anyhow::anyhow!("loading the token issuer's keys from {location}: {err}")
            })?;
            tracing::info!(auth.jwks = %location, "bearer tokens are verified against the issuer's keys");
            Some(verifier)
        }
        None => None,
    };
    report_at_scrape(&metrics, &loader, &registry, &admission);
    Ok(AppState::new(Shared {
        pool,
        loader,
        registry,
        reload,
        admin_token: server.admin_token.as_deref().map(Arc::from),
        head_limits: server.head_limits(),
        admission,
        draining: Arc::default(),
        metrics,
        fleet,
        handlers_dir: server.handlers.as_path().into(),
        reads,
        auth,
        schedules: Arc::default(),
    }))
}

/// Has each owner of a number read at scrape time report it there: the
/// served set (pools, versions), the memory budget, admission. The pool
/// bound never changes, so it is set once.
fn report_at_scrape(
    metrics: &Exporter,
    loader: &Loader,
    registry: &Arc<Registry>,
    admission: &Arc<Admission>,
) {
    metrics::gauge!(m::POOL_MAX).set(loader.databases.total_size() as f64);
    let registry = registry.clone();
    metrics.on_scrape(move |out| geofn_handler_set::metrics::scrape(&registry, out));
    let budget = loader.budget.clone();
    metrics.on_scrape(move |_| budget.report_gauges());
    let admission = admission.clone();
    metrics.on_scrape(move |_| admission.report_gauges());
}

/// How often parked instances are checked for their idle timeout.
const IDLE_SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Retires parked instances that idled past their handler's timeout, for
/// as long as the registry is in use.
fn spawn_idle_sweeper(registry: &Arc<Registry>) {
    let registry = Arc::downgrade(registry);
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(IDLE_SWEEP_EVERY);
        loop {
            ticks.tick().await;
            match registry.upgrade() {
                Some(registry) => registry.sweep_idle_instances(),
                None => return,
            }
        }
    });
}

/// The read router, its monitor polling the replica as the host's role.
/// The replica need not be up: reads go to the primary until it answers.
fn read_replica(
    server: &ServerArgs,
    database: &Database,
    read: &tokio_postgres::Config,
    primary: &Pool,
) -> anyhow::Result<Arc<ReadRouter>> {
    let mut config = read.clone();
    config.application_name("geofn:replica-monitor");
    config.ssl_mode(database.tls.mode.wire_mode());
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    let manager = deadpool_postgres::Manager::from_connect(
        config,
        geofn_db::resolve::HedgedConnect {
            tls: connector(&database.tls)?,
        },
        deadpool_postgres::ManagerConfig {
            recycling_method: deadpool_postgres::RecyclingMethod::Fast,
        },
    );
    let monitor_pool = Pool::builder(manager)
        .max_size(1)
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .build()
        .context("building the read replica's monitor connection")?;
    let router = ReadRouter::new(server.read_max_lag());
    router.spawn_monitor(primary.clone(), monitor_pool);
    tracing::info!(
        db.read_target = %redacted(read),
        read.max_lag_ms = server.read_max_lag().as_millis() as u64,
        "GET and HEAD reads go to the read replica while it keeps up"
    );
    Ok(router)
}

/// Whose role handlers' SQL runs as: their own, unless the operator said
/// otherwise in so many words; never silently the host's.
fn role_mode(server: &ServerArgs, host: &HostRole) -> anyhow::Result<RoleMode> {
    if server.unsafe_handler_sql_as_host_role {
        if host.superuser {
            tracing::error!(
                db.role = %host.name,
                "--unsafe-handler-sql-as-host-role: every handler's SQL runs as {:?}, a SUPERUSER: \
                 any handler can run programs and read files on the database server",
                host.name
            );
        } else {
            tracing::warn!(
                db.role = %host.name,
                "--unsafe-handler-sql-as-host-role: every handler's SQL runs as the host's own role \
                 and can reach the host's tables and every other handler's"
            );
        }
        return Ok(RoleMode::HostRole);
    }
    if !host.can_create_roles() {
        return Err(RoleError::CannotCreateRoles {
            host: host.name.clone(),
        }
        .into());
    }
    tracing::info!(
        db.role = %host.name,
        db.superuser = host.superuser,
        "handlers' SQL runs under roles of their own"
    );
    Ok(RoleMode::PerHandler)
}

/// The directory's handlers with the pushed ones laid over, if any.
async fn with_pushed(
    loader: &Loader,
    server: &ServerArgs,
    fleet: &Fleet,
    files: &HandlerSet,
) -> anyhow::Result<Option<HandlerSet>> {
    let mut snapshot = read_snapshot(&server.handlers, loader).await?;
    fleet.overlay(&mut snapshot).await?;
    if snapshot.fingerprint == files.fingerprint() {
        return Ok(None);
    }
    let merged = build(loader, &server.handlers, &snapshot, Some(files)).await?;
    Ok(Some(merged))
}

/// Starts the hot-swap loop on the handlers directory and the pushed
/// versions (LISTENing on `database`); it stops with `shutdown`.
pub fn spawn_reloader(
    server: &ServerArgs,
    state: &AppState,
    database: &Database,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    let reloader = Reloader {
        dir: server.handlers.clone(),
        loader: state.loader.clone(),
        registry: state.registry.clone(),
        stats: state.reload.clone(),
        poll: server.reload_poll(),
        fleet: state.fleet.clone(),
        listen: Some((database.config.clone(), database.tls.clone())),
    };
    reloader.spawn(shutdown)
}
