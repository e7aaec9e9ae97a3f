//! Command line and environment: clap flags, each with an env fallback,
//! plus the guide's `DB_*` variables.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use tokio_postgres::config::Host;

use crate::db::PoolSettings;
use crate::db::pool::{DEFAULT_POOL_SIZE, DEFAULT_POOL_WAIT, DEFAULT_START_DEADLINE};
use crate::db::tls::{SslMode, TlsSettings, split_tls_options};
use crate::http::admission::DEFAULT_MAX_IN_FLIGHT;
use crate::reload::DEFAULT_POLL;
use crate::runtime::limits::{
    DEFAULT_BODY_BYTES, DEFAULT_DEADLINE, DEFAULT_MAX_MEMORY_BYTES, DEFAULT_MEMORY_BYTES,
};
use crate::runtime::{Limits, RuntimeSettings};
use crate::shutdown::{DEFAULT_DRAIN_TIMEOUT, ShutdownTiming};

/// The guide's Flask port, kept so proxies and probes need no change.
pub const DEFAULT_LISTEN: &str = "0.0.0.0:5000";
/// Where `make build` puts components and their manifest.
pub const DEFAULT_HANDLERS_DIR: &str = "target/handlers";
/// Where `geofn dev` keeps its private PostgreSQL cluster.
pub const DEFAULT_DATA_DIR: &str = ".geofn";
/// PostgreSQL's own default port, for `DB_HOST` without `DB_PORT`.
const DEFAULT_DB_PORT: u16 = 5432;

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
    /// Make a previous version of a handler the active one again.
    Rollback(RollbackArgs),
    /// List what a replica serves and every stored version.
    Handlers(AdminArgs),
}

/// Where the admin API is.
#[derive(Debug, Clone, Args)]
pub struct AdminArgs {
    /// Base URL of any replica (or the load balancer in front of them).
    #[arg(long, env = "GEOFN_URL", default_value = "http://127.0.0.1:5000")]
    pub url: String,
    /// The admin token (GEOFN_ADMIN_TOKEN of the replicas).
    #[arg(long, env = "GEOFN_ADMIN_TOKEN", hide_env_values = true)]
    pub token: String,
}

/// `geofn push`.
#[derive(Debug, Args)]
pub struct PushArgs {
    /// The component (.wasm) to push.
    pub component: PathBuf,
    /// Handler name; its current routes are kept unless --route is given.
    #[arg(long)]
    pub name: String,
    /// A route, "METHOD /path" (repeat for several).
    #[arg(long = "route")]
    pub routes: Vec<String>,
    /// Limits, as in the manifest: deadline_ms=5000, memory_mib=32, ...
    #[arg(long = "limit", value_parser = key_value)]
    pub limits: Vec<(String, String)>,
    /// Where and as whom.
    #[command(flatten)]
    pub admin: AdminArgs,
}

/// `geofn rollback`.
#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// Handler name.
    #[arg(long)]
    pub name: String,
    /// The version to go to; the one before the active one if absent.
    #[arg(long)]
    pub version: Option<u32>,
    /// Where and as whom.
    #[command(flatten)]
    pub admin: AdminArgs,
}

fn key_value(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("{text:?} is not key=value"))
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
    /// Maximum PostgreSQL connections of this process.
    #[arg(long, env = "GEOFN_POOL_SIZE", default_value_t = DEFAULT_POOL_SIZE)]
    pub pool_size: usize,
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
    /// Default request-body cap.
    #[arg(long, env = "GEOFN_MAX_BODY_KIB", default_value_t = DEFAULT_BODY_BYTES >> 10)]
    pub max_body_kib: usize,
    /// Bearer token for /admin/...; without one there are no admin routes.
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
    /// Handler requests in flight at once; more get an immediate 503 with Retry-After.
    #[arg(long, env = "GEOFN_MAX_IN_FLIGHT", default_value_t = DEFAULT_MAX_IN_FLIGHT)]
    pub max_in_flight: usize,
    /// On SIGTERM the listener closes at once; connections already open are
    /// served this long more (with /status at 503 and each answer closing
    /// its connection), so proxies move to other replicas without a failure.
    #[arg(long, env = "GEOFN_SHUTDOWN_DELAY_MS", default_value_t = 0)]
    pub shutdown_delay_ms: u64,
    /// After the listener closes, wait at most this long for requests in flight.
    #[arg(long, env = "GEOFN_DRAIN_TIMEOUT_SECS", default_value_t = DEFAULT_DRAIN_TIMEOUT.as_secs())]
    pub drain_timeout_secs: u64,
}

impl ServerArgs {
    /// Per-request limits when the manifest says nothing.
    pub fn default_limits(&self) -> Limits {
        Limits {
            deadline: Duration::from_millis(self.deadline_ms),
            memory_bytes: self.memory_mib << 20,
            body_bytes: self.max_body_kib << 10,
            ..Limits::default()
        }
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
        }
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

/// Where the database is: a URL, or the guide's separate variables.
#[derive(Debug, Clone, Default, Args)]
pub struct DatabaseArgs {
    /// Connection URL or key=value string; wins over the DB_* settings.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Database host.
    #[arg(long, env = "DB_HOST")]
    pub db_host: Option<String>,
    /// Database port.
    #[arg(long, env = "DB_PORT")]
    pub db_port: Option<u16>,
    /// Database name.
    #[arg(long, env = "DB_NAME")]
    pub db_name: Option<String>,
    /// Database user.
    #[arg(long, env = "DB_USER")]
    pub db_user: Option<String>,
    /// Database password (DB_PASS is read too, as the guide's Kubernetes manifest spells it).
    #[arg(long, env = "DB_PASSWORD", hide_env_values = true)]
    pub db_password: Option<String>,
    /// TLS to the database, as libpq's sslmode (PGSSLMODE is read too);
    /// an sslmode in DATABASE_URL wins.
    #[arg(long, env = "DB_SSLMODE", value_enum)]
    pub db_sslmode: Option<SslMode>,
    /// PEM file of the CA to verify the server with (PGSSLROOTCERT is read too).
    #[arg(long, env = "DB_SSLROOTCERT")]
    pub db_sslrootcert: Option<PathBuf>,
}

/// Where the database is and how to talk to it.
#[derive(Debug, Clone)]
pub struct Database {
    /// Connection settings.
    pub config: tokio_postgres::Config,
    /// TLS settings.
    pub tls: TlsSettings,
}

/// A configuration that cannot work.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// DATABASE_URL does not parse.
    #[error("DATABASE_URL is not a valid PostgreSQL connection string: {0}")]
    BadUrl(tokio_postgres::Error),
    /// An sslmode libpq would not accept either.
    #[error("sslmode {0:?} is not one of disable, allow, prefer, require, verify-ca, verify-full")]
    BadSslMode(String),
    /// `serve` was started with no database at all.
    #[error(
        "no database configured: set DATABASE_URL, or DB_HOST (with DB_PORT, DB_NAME, DB_USER, \
         DB_PASSWORD), or use `geofn dev` for a private one"
    )]
    NoDatabase,
}

impl DatabaseArgs {
    /// The database to use, or `None` when nothing was configured.
    pub fn resolve(&self) -> Result<Option<Database>, ConfigError> {
        let Some(config) = self.pg_config()? else {
            return Ok(None);
        };
        let from_env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let (url_mode, url_root) = match &self.database_url {
            Some(url) => {
                let (_, mode, root) = split_tls_options(url);
                (mode, root)
            }
            None => (None, None),
        };
        let mode = match url_mode.or_else(|| from_env("PGSSLMODE")) {
            Some(text) if self.database_url.is_some() || self.db_sslmode.is_none() => {
                SslMode::parse(&text).ok_or(ConfigError::BadSslMode(text))?
            }
            _ => self.db_sslmode.unwrap_or_default(),
        };
        let root_cert = url_root
            .map(PathBuf::from)
            .or_else(|| self.db_sslrootcert.clone())
            .or_else(|| from_env("PGSSLROOTCERT").map(PathBuf::from));
        Ok(Some(Database {
            config,
            tls: TlsSettings { mode, root_cert },
        }))
    }

    /// The connection configuration, or `None` when nothing was configured.
    pub fn pg_config(&self) -> Result<Option<tokio_postgres::Config>, ConfigError> {
        if let Some(url) = &self.database_url {
            if self.db_host.is_some() {
                tracing::warn!("both DATABASE_URL and DB_HOST are set; using DATABASE_URL");
            }
            let (url, _, _) = split_tls_options(url);
            return tokio_postgres::Config::from_str(&url)
                .map(Some)
                .map_err(ConfigError::BadUrl);
        }
        let Some(host) = &self.db_host else {
            return Ok(None);
        };
        let mut config = tokio_postgres::Config::new();
        config
            .host(host)
            .port(self.db_port.unwrap_or(DEFAULT_DB_PORT))
            .user(self.db_user.as_deref().unwrap_or("postgres"));
        if let Some(name) = &self.db_name {
            config.dbname(name);
        }
        let password = self
            .db_password
            .clone()
            .or_else(|| std::env::var("DB_PASS").ok());
        if let Some(password) = password {
            config.password(password);
        }
        Ok(Some(config))
    }
}

/// A connection target fit for logs: hosts, ports, database and user, never
/// the password.
pub fn redacted(config: &tokio_postgres::Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|host| match host {
            Host::Tcp(name) => name.clone(),
            Host::Unix(path) => path.display().to_string(),
        })
        .collect();
    let ports: Vec<String> = config.get_ports().iter().map(u16::to_string).collect();
    format!(
        "postgresql://{}@{}:{}/{}{}",
        config.get_user().unwrap_or("?"),
        hosts.join(","),
        ports.join(","),
        config.get_dbname().unwrap_or(""),
        if config.get_password().is_some() {
            " (password set)"
        } else {
            ""
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn guide_variables_build_a_config() {
        let args = DatabaseArgs {
            db_host: Some("postgis".into()),
            db_name: Some("gisdb".into()),
            db_user: Some("gisuser".into()),
            db_password: Some("gispassword".into()),
            ..DatabaseArgs::default()
        };
        let config = args.pg_config().unwrap().unwrap();
        assert_eq!(config.get_ports(), [5432]);
        assert_eq!(config.get_dbname(), Some("gisdb"));
        assert_eq!(config.get_password(), Some(&b"gispassword"[..]));
    }

    #[test]
    fn sslmode_in_the_url_wins_and_is_understood() {
        let args = DatabaseArgs {
            database_url: Some(
                "postgresql://u@db/gis?sslmode=verify-full&sslrootcert=/ca.pem".into(),
            ),
            db_sslmode: Some(SslMode::Disable),
            ..DatabaseArgs::default()
        };
        let database = args.resolve().unwrap().unwrap();
        assert_eq!(database.tls.mode, SslMode::VerifyFull);
        assert_eq!(
            database.tls.root_cert.as_deref(),
            Some(Path::new("/ca.pem"))
        );
        assert_eq!(database.config.get_dbname(), Some("gis"));
    }

    #[test]
    fn nothing_configured_is_none() {
        assert!(DatabaseArgs::default().pg_config().unwrap().is_none());
    }

    #[test]
    fn redaction_hides_the_password() {
        let config =
            tokio_postgres::Config::from_str("postgresql://gisuser:s3cret@db.example:6432/gisdb")
                .unwrap();
        let shown = redacted(&config);
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("gisuser@db.example:6432/gisdb"), "{shown}");
    }

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
