//! Where PostgreSQL is: `DATABASE_URL` or the guide's `DB_*` variables,
//! TLS as libpq's `sslmode`.

use std::path::PathBuf;
use std::str::FromStr;

use clap::Args;
use clap::builder::{PossibleValuesParser, TypedValueParser};

use geofn_db::tls::{SslMode, TlsSettings, split_tls_options};

/// PostgreSQL's own default port, for `DB_HOST` without `DB_PORT`.
const DEFAULT_DB_PORT: u16 = 5432;

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
    #[arg(long, env = "DB_SSLMODE",
          value_parser = PossibleValuesParser::new(SslMode::NAMES)
              .try_map(|name| SslMode::parse(&name).ok_or("an sslmode")))]
    pub db_sslmode: Option<SslMode>,
    /// PEM file of the CA to verify the server with (PGSSLROOTCERT is read too).
    #[arg(long, env = "DB_SSLROOTCERT")]
    pub db_sslrootcert: Option<PathBuf>,
    /// A streaming replica for the reads of GET and HEAD requests: URL or
    /// key=value string; what it leaves out (user, password, database) is
    /// the primary's. TLS as for the primary.
    #[arg(long, env = "DATABASE_READ_URL", hide_env_values = true)]
    pub database_read_url: Option<String>,
    /// The read replica's host, the guide's way: the other DB_* settings
    /// (port unless DB_READ_PORT, name, user, password) are the primary's.
    #[arg(long, env = "DB_READ_HOST")]
    pub db_read_host: Option<String>,
    /// The read replica's port [default: DB_PORT].
    #[arg(long, env = "DB_READ_PORT")]
    pub db_read_port: Option<u16>,
}

/// Where the database is and how to talk to it.
#[derive(Debug, Clone)]
pub struct Database {
    /// Connection settings.
    pub config: tokio_postgres::Config,
    /// The read replica's, if there is one.
    pub read: Option<tokio_postgres::Config>,
    /// TLS settings (the replica's too).
    pub tls: TlsSettings,
}

impl Database {
    /// A database with no read replica.
    pub fn primary(config: tokio_postgres::Config, tls: TlsSettings) -> Self {
        Self {
            config,
            read: None,
            tls,
        }
    }
}

/// A configuration that cannot work.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// DATABASE_URL does not parse.
    #[error("DATABASE_URL is not a valid PostgreSQL connection string: {0}")]
    BadUrl(tokio_postgres::Error),
    /// DATABASE_READ_URL does not parse.
    #[error("DATABASE_READ_URL is not a valid PostgreSQL connection string: {0}")]
    BadReadUrl(tokio_postgres::Error),
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
        let read = self.read_config(&config)?;
        Ok(Some(Database {
            config,
            read,
            tls: TlsSettings { mode, root_cert },
        }))
    }

    /// The read replica's connection settings: its own where given, the
    /// primary's for the rest.
    pub fn read_config(
        &self,
        primary: &tokio_postgres::Config,
    ) -> Result<Option<tokio_postgres::Config>, ConfigError> {
        if let Some(url) = &self.database_read_url {
            let (url, _, _) = split_tls_options(url);
            let mut read =
                tokio_postgres::Config::from_str(&url).map_err(ConfigError::BadReadUrl)?;
            if read.get_user().is_none()
                && let Some(user) = primary.get_user()
            {
                read.user(user);
            }
            if read.get_password().is_none()
                && let Some(password) = primary.get_password()
            {
                read.password(password);
            }
            if read.get_dbname().is_none()
                && let Some(name) = primary.get_dbname()
            {
                read.dbname(name);
            }
            if let Some(options) = primary.get_options()
                && read.get_options().is_none()
            {
                read.options(options);
            }
            return Ok(Some(read));
        }
        let Some(host) = &self.db_read_host else {
            return Ok(None);
        };
        let port = self
            .db_read_port
            .or(self.db_port)
            .or_else(|| primary.get_ports().first().copied())
            .unwrap_or(DEFAULT_DB_PORT);
        // A clone of the primary's would keep its host: `host` adds to a list.
        let mut only = tokio_postgres::Config::new();
        only.host(host).port(port);
        if let Some(user) = primary.get_user() {
            only.user(user);
        }
        if let Some(password) = primary.get_password() {
            only.password(password);
        }
        if let Some(name) = primary.get_dbname() {
            only.dbname(name);
        }
        if let Some(options) = primary.get_options() {
            only.options(options);
        }
        Ok(Some(only))
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
}
