//! Command line and environment: clap flags, each with an env fallback,
//! plus the guide's `DB_*` variables.
//!
//! - [`database`]: where PostgreSQL is and how to reach it (URL or `DB_*`,
//!   libpq's sslmode).
//! - [`auth`]: the token issuer whose bearer tokens the host verifies.
//! - [`oci`]: how registries are reached.
//! - [`admin`]: the admin commands' arguments.

mod admin;
mod auth;
mod database;
mod oci;

pub use admin::{AdminArgs, PublishArgs, PushArgs, RollbackArgs};
pub use auth::AuthArgs;
pub use database::{ConfigError, Database, DatabaseArgs};
pub use oci::OciArgs;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use clap::builder::{PossibleValuesParser, TypedValueParser};
use geofn_db::handler_databases::{HandlerDbSettings, RoleMode};
use geofn_db::pool::{DEFAULT_POOL_SIZE, DEFAULT_POOL_WAIT, DEFAULT_START_DEADLINE, PoolSettings};
use geofn_db::replica::DEFAULT_MAX_LAG;
use geofn_handler_set::reload::DEFAULT_POLL;
use geofn_http::admission::{DEFAULT_MAX_IN_FLIGHT, DEFAULT_QUEUE_WAIT};
use geofn_http::head_limits::{
    DEFAULT_FIELDS_BYTES, DEFAULT_TARGET_BYTES, HeadLimits, MAX_FIELDS_BYTES, MAX_TARGET_BYTES,
};
use geofn_http::shutdown::{DEFAULT_DRAIN_TIMEOUT, ShutdownTiming};
use geofn_runtime::budget::{
    DEFAULT_BUDGET_WAIT, DEFAULT_HANDLER_SHARE_PERCENT, default_budget_bytes,
};
use geofn_runtime::limits::{
    DEFAULT_BODY_BYTES, DEFAULT_DEADLINE, DEFAULT_MAX_MEMORY_BYTES, DEFAULT_MEMORY_BYTES,
};
use geofn_runtime::reset::ResetSetting;
use geofn_runtime::{Limits, RuntimeSettings};

/// The guide's Flask port, kept so proxies and probes need no change.
pub const DEFAULT_LISTEN: &str = "0.0.0.0:5000";
/// Where `make build` puts components and their manifest.
pub const DEFAULT_HANDLERS_DIR: &str = "target/handlers";
/// Where `geofn dev` keeps its private PostgreSQL cluster.
pub const DEFAULT_DATA_DIR: &str = ".geofn";

/// geofn: spatial HTTP APIs from WebAssembly handlers on PostGIS.
#[derive(Debug, Parser)]
#[command(name = "geofn", version, about)]
pub struct Cli {
    /// Log line format.
    #[arg(long, env = "GEOFN_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Log line formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve against the configured database (DATABASE_URL or DB_HOST, DB_PORT, ...).
    Serve(ServeArgs),
    /// Serve on a private PostGIS cluster kept in --data-dir, started and
    /// stopped with the host (or on the configured database, if there is one).
    Dev(DevArgs),
    /// Exit 0 if the host listening on --listen answers /status with 200
    /// (container health checks).
    Health(HealthArgs),
    /// Store a component as the new version of a handler on every replica.
    Push(PushArgs),
    /// Push a component to an OCI registry in the CNCF Wasm artifact
    /// layout; prints the reference pinned to its digest.
    Publish(PublishArgs),
    /// Make a previous version of a handler the active one again.
    Rollback(RollbackArgs),
    /// List what a replica serves and every stored version.
    Handlers(AdminArgs),
    /// Write a new handler crate (its own table, routes and migration) that
    /// builds and deploys as is, outside this repository.
    New(NewArgs),
}

/// `geofn new`.
#[derive(Debug, Args)]
pub struct NewArgs {
    /// The handler's name: its routes are /NAME..., its table NAME.
    pub name: String,
    /// Where to write it [default: ./NAME].
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// What to write it in.
    #[arg(long, value_enum, default_value_t)]
    pub lang: crate::scaffold::Lang,
}

/// `geofn health`.
#[derive(Debug, Args)]
pub struct HealthArgs {
    /// Where the host listens (0.0.0.0 means this machine).
    #[arg(long, env = "GEOFN_LISTEN", default_value = DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// Path to ask.
    #[arg(long, default_value = "/status")]
    pub path: String,
}

/// `geofn serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Server settings.
    #[command(flatten)]
    pub server: ServerArgs,
    /// Database settings.
    #[command(flatten)]
    pub database: DatabaseArgs,
}

/// `geofn dev`.
#[derive(Debug, Args)]
pub struct DevArgs {
    /// Server settings.
    #[command(flatten)]
    pub server: ServerArgs,
    /// Database settings; when none is given, the private cluster is used.
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Folder of the private cluster (created on first run, kept across runs).
    #[arg(long, env = "GEOFN_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,
}

/// Settings shared by `serve` and `dev`.
#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// Address to listen on.
    #[arg(long, env = "GEOFN_LISTEN", default_value = DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// Directory holding the handler components and their geofn.toml.
    #[arg(long, env = "GEOFN_HANDLERS", default_value = DEFAULT_HANDLERS_DIR)]
    pub handlers: PathBuf,
    /// Directory of handler variables' values, one file per variable
    /// (`<handler>/<name>` or `<handler>.<name>`), as a Kubernetes Secret
    /// mounts; read at every load of the handler set. The environment
    /// (`GEOFN_VAR_<HANDLER>_<NAME>`) wins over it.
    #[arg(long, env = "GEOFN_VARS_DIR")]
    pub vars_dir: Option<PathBuf>,
    /// PEM CA bundle handlers' outbound HTTPS calls trust besides the
    /// system's roots (a private CA in front of internal services).
    #[arg(long, env = "GEOFN_OUTBOUND_CA_FILE")]
    pub outbound_ca_file: Option<PathBuf>,
    /// Idle connections to one upstream a handler version keeps for its
    /// next calls; 0 opens a new one for every call.
    #[arg(long, env = "GEOFN_OUTBOUND_IDLE_PER_HOST", default_value_t = geofn_runtime::outbound::DEFAULT_IDLE_PER_HOST)]
    pub outbound_idle_per_host: usize,
    /// PostgreSQL connections all handlers of this process hold at most,
    /// together (the host's own few come on top).
    #[arg(long, env = "GEOFN_POOL_SIZE", default_value_t = DEFAULT_POOL_SIZE)]
    pub pool_size: usize,
    /// Connections one handler may hold at once, where its manifest does not
    /// say (`db_connections`) [default: half of --pool-size].
    #[arg(long, env = "GEOFN_HANDLER_DB_CONNECTIONS")]
    pub handler_db_connections: Option<usize>,
    /// Run every handler's SQL as the host's own database role instead of a
    /// role of its own: handlers can then reach the host's tables, each
    /// other's, and, if that role is a superuser, the database server.
    /// For databases where the host's role may not create roles.
    #[arg(long, env = "GEOFN_UNSAFE_HANDLER_SQL_AS_HOST_ROLE")]
    pub unsafe_handler_sql_as_host_role: bool,
    /// How long a request waits for a free connection before failing with 503.
    #[arg(long, env = "GEOFN_POOL_WAIT_MS", default_value_t = DEFAULT_POOL_WAIT.as_millis() as u64)]
    pub pool_wait_ms: u64,
    /// How long start-up waits for the database to accept connections.
    #[arg(long, env = "GEOFN_DB_START_TIMEOUT_SECS", default_value_t = DEFAULT_START_DEADLINE.as_secs())]
    pub db_start_timeout_secs: u64,
    /// Default wall-clock deadline of one handler call.
    #[arg(long, env = "GEOFN_DEADLINE_MS", default_value_t = DEFAULT_DEADLINE.as_millis() as u64)]
    pub deadline_ms: u64,
    /// Default linear-memory cap of one handler instance.
    #[arg(long, env = "GEOFN_MEMORY_MIB", default_value_t = DEFAULT_MEMORY_BYTES >> 20)]
    pub memory_mib: usize,
    /// Largest memory cap any handler may ask for in its manifest.
    #[arg(long, env = "GEOFN_MAX_MEMORY_MIB", default_value_t = DEFAULT_MAX_MEMORY_BYTES >> 20)]
    pub max_memory_mib: usize,
    /// Memory the instances alive at once may have, by their memory limits
    /// [default: the container's memory limit, or the machine's memory,
    /// less a quarter (at least 128 MiB) for the host itself].
    #[arg(long, env = "GEOFN_MEMORY_BUDGET_MIB")]
    pub memory_budget_mib: Option<u64>,
    /// Share of the memory budget one handler's instances may hold, in percent.
    #[arg(long, env = "GEOFN_HANDLER_MEMORY_SHARE_PERCENT", default_value_t = DEFAULT_HANDLER_SHARE_PERCENT,
          value_parser = clap::value_parser!(u8).range(1..=100))]
    pub handler_memory_share_percent: u8,
    /// How long a request waits for room in the memory budget before a 503.
    #[arg(long, env = "GEOFN_MEMORY_WAIT_MS", default_value_t = DEFAULT_BUDGET_WAIT.as_millis() as u64)]
    pub memory_wait_ms: u64,
    /// Default request-body cap.
    #[arg(long, env = "GEOFN_MAX_BODY_KIB", default_value_t = DEFAULT_BODY_BYTES >> 10)]
    pub max_body_kib: usize,
    /// Longest request target (path and query) taken; longer gets a 414.
    #[arg(long, env = "GEOFN_MAX_URI_KIB", default_value_t = (DEFAULT_TARGET_BYTES >> 10) as u64,
          value_parser = clap::value_parser!(u64).range(1..=(MAX_TARGET_BYTES >> 10) as u64))]
    pub max_uri_kib: u64,
    /// Most bytes of header fields taken, all together as on the wire;
    /// more gets a 431.
    #[arg(long, env = "GEOFN_MAX_HEADER_KIB", default_value_t = (DEFAULT_FIELDS_BYTES >> 10) as u64,
          value_parser = clap::value_parser!(u64).range(1..=(MAX_FIELDS_BYTES >> 10) as u64))]
    pub max_header_kib: u64,
    /// Bearer token for /admin/...; without one `serve` has no admin
    /// routes, and `dev` makes one of its own (kept in --data-dir).
    #[arg(long, env = "GEOFN_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// How often to compare the handlers directory's metadata, as a fallback
    /// for file systems whose change events are unreliable; 0 turns it off.
    #[arg(long, env = "GEOFN_RELOAD_POLL_MS", default_value_t = DEFAULT_POLL.as_millis() as u64)]
    pub reload_poll_ms: u64,
    /// Where compiled components are cached [default: $XDG_CACHE_HOME/geofn or ~/.cache/geofn].
    #[arg(long, env = "GEOFN_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Compile every component at every start and swap, caching nothing on disk.
    #[arg(long, env = "GEOFN_NO_CACHE")]
    pub no_cache: bool,
    /// Write /tmp/perf-<pid>.map so that `perf report` names the functions
    /// of handler components instead of showing bare JIT addresses.
    #[arg(long, env = "GEOFN_PERF_MAP")]
    pub perf_map: bool,
    /// How instance memory is wiped between requests: `scan` resets only
    /// the pages a request wrote, resident or swapped (PAGEMAP_SCAN, Linux
    /// 6.7+); `full` resets every page, at about twice an empty request's
    /// cost; `auto` scans where the kernel can.
    #[arg(long, env = "GEOFN_MEMORY_RESET", default_value = "auto",
          value_parser = PossibleValuesParser::new(ResetSetting::NAMES)
              .try_map(|name| name.parse::<ResetSetting>()))]
    pub memory_reset: ResetSetting,
    /// Handler requests in flight at once; more wait for a slot (see
    /// --queue-wait-ms), then get a 503 with Retry-After.
    #[arg(long, env = "GEOFN_MAX_IN_FLIGHT", default_value_t = DEFAULT_MAX_IN_FLIGHT)]
    pub max_in_flight: usize,
    /// A request finding every slot taken waits for one only while it can
    /// still be answered within this (the wait plus the measured service
    /// time), and only as many wait as the slots can take in meanwhile;
    /// the rest get a 503 with Retry-After at once. 0: never wait.
    #[arg(long, env = "GEOFN_QUEUE_WAIT_MS", default_value_t = DEFAULT_QUEUE_WAIT.as_millis() as u64)]
    pub queue_wait_ms: u64,
    /// On SIGTERM the listener closes at once; connections already open are
    /// served this long more (with /status at 503 and each answer closing
    /// its connection), so proxies move to other replicas without a failure.
    #[arg(long, env = "GEOFN_SHUTDOWN_DELAY_MS", default_value_t = 0)]
    pub shutdown_delay_ms: u64,
    /// After the listener closes, wait at most this long for requests in flight.
    #[arg(long, env = "GEOFN_DRAIN_TIMEOUT_SECS", default_value_t = DEFAULT_DRAIN_TIMEOUT.as_secs())]
    pub drain_timeout_secs: u64,
    /// With a read replica: how far behind the primary it may be and still
    /// serve reads; further behind, reads go to the primary until it catches up.
    #[arg(long, env = "GEOFN_READ_MAX_LAG_MS", default_value_t = DEFAULT_MAX_LAG.as_millis() as u64)]
    pub read_max_lag_ms: u64,
    /// Bearer tokens: the issuer, its keys, what tokens must say.
    #[command(flatten)]
    pub auth: AuthArgs,
    /// Registries handler artifacts are pulled from.
    #[command(flatten)]
    pub oci: OciArgs,
}

impl ServerArgs {
    /// Per-request limits when the manifest says nothing.
    pub fn default_limits(&self) -> Limits {
        Limits {
            deadline: Duration::from_millis(self.deadline_ms),
            memory_bytes: self.memory_mib << 20,
            body_bytes: self.max_body_kib << 10,
            db_connections: self
                .handler_db_connections
                .unwrap_or(self.pool_size.div_ceil(2)),
            ..Limits::default()
        }
    }

    /// How handlers reach the database.
    pub fn handler_db_settings(&self, mode: RoleMode) -> HandlerDbSettings {
        HandlerDbSettings {
            total: self.pool_size,
            wait: Duration::from_millis(self.pool_wait_ms),
            mode,
        }
    }

    /// The bounds on every request's head.
    pub fn head_limits(&self) -> HeadLimits {
        HeadLimits {
            target_bytes: (self.max_uri_kib as usize) << 10,
            fields_bytes: (self.max_header_kib as usize) << 10,
        }
    }

    /// The memory budget, configured or derived.
    pub fn memory_budget_bytes(&self) -> u64 {
        self.memory_budget_mib
            .map_or_else(default_budget_bytes, |mib| mib << 20)
    }

    /// How long a request waits for room in the memory budget.
    pub fn memory_wait(&self) -> Duration {
        Duration::from_millis(self.memory_wait_ms)
    }

    /// Engine settings.
    pub fn runtime_settings(&self) -> RuntimeSettings {
        let cache_dir = if self.no_cache {
            None
        } else {
            self.cache_dir.clone().or_else(default_cache_dir)
        };
        RuntimeSettings {
            max_memory_bytes: self.max_memory_mib << 20,
            cache_dir,
            perf_map: self.perf_map,
            reset: self.memory_reset.choose(),
        }
    }

    /// The bound on the read replica's lag.
    pub fn read_max_lag(&self) -> Duration {
        Duration::from_millis(self.read_max_lag_ms)
    }

    /// Shutdown timing.
    pub fn shutdown_timing(&self) -> ShutdownTiming {
        ShutdownTiming {
            delay: Duration::from_millis(self.shutdown_delay_ms),
            drain: Duration::from_secs(self.drain_timeout_secs),
        }
    }

    /// The polling interval, if polling is on.
    pub fn reload_poll(&self) -> Option<Duration> {
        (self.reload_poll_ms > 0).then(|| Duration::from_millis(self.reload_poll_ms))
    }

    /// Pool settings.
    pub fn pool_settings(&self) -> PoolSettings {
        PoolSettings {
            max_size: self.pool_size,
            wait: Duration::from_millis(self.pool_wait_ms),
            start_deadline: Duration::from_secs(self.db_start_timeout_secs),
        }
    }
}

/// `$XDG_CACHE_HOME/geofn`, else `$HOME/.cache/geofn`.
fn default_cache_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .map(|base| base.join("geofn"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn cli_parses_the_documented_commands() {
        let cli = Cli::try_parse_from([
            "geofn",
            "dev",
            "--listen",
            "127.0.0.1:0",
            "--handlers",
            "h",
            "--data-dir",
            "d",
        ])
        .unwrap();
        assert!(matches!(cli.command, Command::Dev(ref a) if a.data_dir == Path::new("d")));
    }
}
