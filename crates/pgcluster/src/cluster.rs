//! The cluster itself: its folder, its port, its server and, on request,
//! a streaming standby of it.

use std::fs;
use std::io::Read;
use std::os::unix::fs::{PermissionsExt, chown};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::error::ClusterError;
use crate::system::{
    checked, find_bin_dir, free_port, io, is_root, random_password, system_ids, write_private,
};

/// The cluster's superuser and the database the host uses.
pub const DEV_USER: &str = "geofn";
/// Database created for the host inside the cluster.
pub const DEV_DATABASE: &str = "geofn";
/// System account that owns the cluster when we run as root.
const SYSTEM_USER: &str = "postgres";
/// Seconds `pg_ctl` waits for start or stop.
const PG_CTL_WAIT_SECS: &str = "60";
/// Port attempts when a freshly picked free port is taken before PostgreSQL binds it.
const START_ATTEMPTS: usize = 3;

/// How to start a cluster.
#[derive(Debug, Clone, Default)]
pub struct ClusterOptions {
    /// Extra `-c name=value` server settings (tests turn fsync off).
    pub settings: Vec<(String, String)>,
    /// Stop with `immediate` rather than `fast` on drop (tests: no checkpoint).
    pub immediate_stop: bool,
    /// Serve TLS with this certificate and key (PEM), beside plain TCP.
    pub tls: Option<ServerTls>,
}

/// A server certificate and its private key, PEM-encoded.
#[derive(Debug, Clone)]
pub struct ServerTls {
    /// Certificate chain.
    pub cert_pem: String,
    /// Private key.
    pub key_pem: String,
}

/// A running cluster; stopped when dropped.
#[derive(Debug)]
pub struct PgCluster {
    pgdata: PathBuf,
    bin: PathBuf,
    port: u16,
    password: String,
    run_as: Option<String>,
    immediate_stop: bool,
    stopped: bool,
}

impl PgCluster {
    /// Starts the cluster kept in `root` (initialising it on first use).
    pub fn start(root: &Path, options: ClusterOptions) -> Result<Self, ClusterError> {
        let bin = find_bin_dir().ok_or(ClusterError::NoBinaries)?;
        let run_as = if is_root() {
            Some(SYSTEM_USER.to_owned())
        } else {
            None
        };
        fs::create_dir_all(root).map_err(io(root))?;
        let root = root.canonicalize().map_err(io(root))?;
        let pgdata = root.join("pgdata");
        let password_file = root.join("password");
        let mut cluster = Self {
            pgdata,
            bin,
            port: 0,
            password: String::new(),
            run_as,
            immediate_stop: options.immediate_stop,
            stopped: true,
        };

        let fresh = !cluster.pgdata.join("PG_VERSION").exists();
        if fresh {
            cluster.password = random_password()?;
            cluster.init(&root)?;
            write_private(&password_file, &cluster.password)?;
        } else {
            cluster.password = fs::read_to_string(&password_file)
                .map_err(io(&password_file))?
                .trim()
                .to_owned();
        }

        if let Some(port) = cluster.running_port() {
            tracing::info!(pgdata = %cluster.pgdata.display(), port, "reusing running cluster");
            cluster.port = port;
        } else {
            cluster.start_server(&options)?;
        }
        cluster.stopped = false;
        if fresh {
            cluster.create_database()?;
        }
        Ok(cluster)
    }

    /// Starts a streaming replica of `primary` kept in `root`: a base
    /// backup taken with `pg_basebackup -R` (so it follows the primary as a
    /// hot standby), started on a free loopback port. Same superuser and
    /// password as the primary.
    pub fn start_standby(
        root: &Path,
        primary: &PgCluster,
        options: ClusterOptions,
    ) -> Result<Self, ClusterError> {
        fs::create_dir_all(root).map_err(io(root))?;
        let root = root.canonicalize().map_err(io(root))?;
        let mut cluster = Self {
            pgdata: root.join("pgdata"),
            bin: primary.bin.clone(),
            port: 0,
            password: primary.password.clone(),
            run_as: primary.run_as.clone(),
            immediate_stop: options.immediate_stop,
            stopped: true,
        };
        fs::create_dir_all(&cluster.pgdata).map_err(io(&cluster.pgdata))?;
        fs::set_permissions(&cluster.pgdata, fs::Permissions::from_mode(0o700))
            .map_err(io(&cluster.pgdata))?;
        if let Some(user) = &cluster.run_as {
            let (uid, gid) = system_ids(user)?;
            fs::set_permissions(&root, fs::Permissions::from_mode(0o711)).map_err(io(&root))?;
            chown(&cluster.pgdata, Some(uid), Some(gid)).map_err(io(&cluster.pgdata))?;
        }
        cluster.as_server_user(
            Command::new(cluster.bin.join("pg_basebackup"))
                .arg("-D")
                .arg(&cluster.pgdata)
                .args(["-R", "-X", "stream", "-c", "fast", "-h", "127.0.0.1"])
                .args(["-p", &primary.port.to_string(), "-U", DEV_USER])
                .env("PGPASSWORD", &primary.password),
            "pg_basebackup",
        )?;
        write_private(&root.join("password"), &cluster.password)?;
        cluster.start_server(&options)?;
        cluster.stopped = false;
        Ok(cluster)
    }

    /// The server's log file (tests read query plans from it).
    pub fn log_path(&self) -> PathBuf {
        self.pgdata.join("server.log")
    }

    /// Port the server listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The superuser's password (tests connect as it to play the operator).
    pub fn password(&self) -> &str {
        &self.password
    }

    /// Connection settings for the host's database.
    pub fn config(&self) -> tokio_postgres::Config {
        self.config_for(DEV_DATABASE)
    }

    /// Connection settings for another database of the cluster.
    pub fn config_for(&self, dbname: &str) -> tokio_postgres::Config {
        let mut config = tokio_postgres::Config::new();
        config
            .host("127.0.0.1")
            .port(self.port)
            .user(DEV_USER)
            .password(self.password.clone())
            .dbname(dbname);
        config
    }

    /// A `postgresql://` URL for the host's database (with the password).
    pub fn url(&self) -> String {
        format!(
            "postgresql://{DEV_USER}:{}@127.0.0.1:{}/{DEV_DATABASE}",
            self.password, self.port
        )
    }

    /// Stops the server, waiting for it to exit.
    pub fn stop(&mut self) -> Result<(), ClusterError> {
        if self.stopped {
            return Ok(());
        }
        let mode = if self.immediate_stop {
            "immediate"
        } else {
            "fast"
        };
        let pgdata = self.pgdata.display().to_string();
        self.pg_ctl(&[
            "stop",
            "-D",
            &pgdata,
            "-m",
            mode,
            "-w",
            "-t",
            PG_CTL_WAIT_SECS,
        ])?;
        self.stopped = true;
        Ok(())
    }

    /// Starts the server again after [`stop`](Self::stop), on the same port.
    pub fn restart(&mut self, options: &ClusterOptions) -> Result<(), ClusterError> {
        if self.stopped {
            self.start_on(self.port, options)?;
            self.stopped = false;
        }
        Ok(())
    }

    fn init(&self, root: &Path) -> Result<(), ClusterError> {
        fs::create_dir_all(&self.pgdata).map_err(io(&self.pgdata))?;
        fs::set_permissions(&self.pgdata, fs::Permissions::from_mode(0o700))
            .map_err(io(&self.pgdata))?;
        // initdb reads the superuser password from a file it can open.
        let pwfile = root.join("initdb.pw");
        fs::write(&pwfile, &self.password).map_err(io(&pwfile))?;
        if let Some(user) = &self.run_as {
            let (uid, gid) = system_ids(user)?;
            // The root folder needs only traversal by the server's user.
            fs::set_permissions(root, fs::Permissions::from_mode(0o711)).map_err(io(root))?;
            chown(&self.pgdata, Some(uid), Some(gid)).map_err(io(&self.pgdata))?;
            chown(&pwfile, Some(uid), Some(gid)).map_err(io(&pwfile))?;
            if !self.runs(Command::new("test").args(["-w"]).arg(&self.pgdata)) {
                let _ = fs::remove_file(&pwfile);
                return Err(ClusterError::Unreachable(self.pgdata.clone()));
            }
        }
        let result = self.as_server_user(
            Command::new(self.bin.join("initdb"))
                .arg("-D")
                .arg(&self.pgdata)
                .args(["-U", DEV_USER, "--auth=scram-sha-256", "-E", "UTF8"])
                .args(["--locale=C", "--no-instructions"])
                .arg(format!("--pwfile={}", pwfile.display())),
            "initdb",
        );
        let _ = fs::remove_file(&pwfile);
        result.map(drop)
    }

    fn start_server(&mut self, options: &ClusterOptions) -> Result<(), ClusterError> {
        let mut last = None;
        for _ in 0..START_ATTEMPTS {
            let port = free_port().map_err(io(Path::new("127.0.0.1")))?;
            match self.start_on(port, options) {
                Ok(()) => return Ok(()),
                Err(err) => last = Some(err),
            }
        }
        Err(last.expect("at least one attempt"))
    }

    fn start_on(&mut self, port: u16, options: &ClusterOptions) -> Result<(), ClusterError> {
        let mut server_options =
            format!("-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''");
        for (name, value) in &options.settings {
            server_options.push_str(&format!(" -c {name}={value}"));
        }
        if let Some(tls) = &options.tls {
            self.install_tls(tls)?;
            server_options.push_str(" -c ssl=on");
        }
        let pgdata = self.pgdata.display().to_string();
        let log = self.log_path().display().to_string();
        self.pg_ctl(&[
            "start",
            "-D",
            &pgdata,
            "-l",
            &log,
            "-w",
            "-t",
            PG_CTL_WAIT_SECS,
            "-o",
            &server_options,
        ])?;
        self.port = port;
        Ok(())
    }

    /// Writes `server.crt`/`server.key` into the data folder, readable only
    /// by the server's user, as PostgreSQL insists for the key.
    fn install_tls(&self, tls: &ServerTls) -> Result<(), ClusterError> {
        for (name, pem) in [("server.crt", &tls.cert_pem), ("server.key", &tls.key_pem)] {
            let path = self.pgdata.join(name);
            fs::write(&path, pem).map_err(io(&path))?;
            fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).map_err(io(&path))?;
            if let Some(user) = &self.run_as {
                let (uid, gid) = system_ids(user)?;
                chown(&path, Some(uid), Some(gid)).map_err(io(&path))?;
            }
        }
        Ok(())
    }

    fn create_database(&self) -> Result<(), ClusterError> {
        let mut command = Command::new(self.bin.join("createdb"));
        command
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                DEV_USER,
            ])
            .arg(DEV_DATABASE)
            .env("PGPASSWORD", &self.password)
            .current_dir("/");
        checked(&mut command, "createdb").map(drop)
    }

    /// The port of a server already running on this data folder, if any
    /// (left behind when a previous `geofn dev` was killed).
    fn running_port(&self) -> Option<u16> {
        let pgdata = self.pgdata.display().to_string();
        self.pg_ctl(&["status", "-D", &pgdata]).ok()?;
        let mut pid_file = String::new();
        fs::File::open(self.pgdata.join("postmaster.pid"))
            .ok()?
            .read_to_string(&mut pid_file)
            .ok()?;
        // Line 4 of postmaster.pid is the port.
        pid_file.lines().nth(3)?.trim().parse().ok()
    }

    fn pg_ctl(&self, args: &[&str]) -> Result<Output, ClusterError> {
        self.as_server_user(Command::new(self.bin.join("pg_ctl")).args(args), "pg_ctl")
    }

    fn as_server_user(&self, command: &mut Command, what: &str) -> Result<Output, ClusterError> {
        let mut wrapped = self.wrap(command);
        checked(&mut wrapped, what)
    }

    fn runs(&self, command: &mut Command) -> bool {
        self.wrap(command)
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    }

    /// `command`, run as the server's user, from `/` (a root-only working
    /// directory would make PostgreSQL tools complain).
    fn wrap(&self, command: &Command) -> Command {
        let mut wrapped = match &self.run_as {
            Some(user) => {
                let mut runuser = Command::new("runuser");
                runuser.args(["-u", user, "--"]).arg(command.get_program());
                runuser
            }
            None => Command::new(command.get_program()),
        };
        wrapped.args(command.get_args()).current_dir("/");
        for (name, value) in command.get_envs() {
            match value {
                Some(value) => wrapped.env(name, value),
                None => wrapped.env_remove(name),
            };
        }
        wrapped
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if let Err(err) = self.stop() {
            tracing::warn!(error = %err, "stopping the private cluster failed");
        }
    }
}
