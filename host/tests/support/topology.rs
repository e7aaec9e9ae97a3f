//! The deploy topology on loopback: three `geofn` replicas sharing one
//! PostGIS and one handlers directory, behind a real nginx or HAProxy
//! running the shipped configuration with only the addresses changed.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

use super::{Host, TestDb, client, free_port};

/// How many replicas the shipped configurations name.
pub const REPLICAS: usize = 3;

/// The repository's deploy folder.
pub fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy")
}

/// Three replicas on fixed ports (so one can be restarted in its place).
pub struct Replicas {
    pub ports: Vec<u16>,
    pub hosts: Vec<Option<Host>>,
    handlers: PathBuf,
    extra: Vec<String>,
}

impl Replicas {
    /// Starts the replicas with `handlers` and extra flags.
    pub async fn start(db: &TestDb, handlers: &Path, extra: &[&str]) -> Self {
        let mut replicas = Self {
            ports: (0..REPLICAS).map(|_| free_port()).collect(),
            hosts: Vec::new(),
            handlers: handlers.to_owned(),
            extra: extra.iter().map(|s| (*s).to_owned()).collect(),
        };
        for i in 0..REPLICAS {
            let host = replicas.spawn(db, i).await;
            replicas.hosts.push(Some(host));
        }
        replicas
    }

    async fn spawn(&self, db: &TestDb, i: usize) -> Host {
        let listen = format!("127.0.0.1:{}", self.ports[i]);
        let mut args: Vec<&str> = vec!["--listen", &listen];
        args.extend(self.extra.iter().map(String::as_str));
        Host::serve_exact(db, &self.handlers, &args).await
    }

    /// SIGKILL replica `i`.
    pub async fn kill(&mut self, i: usize) {
        if let Some(host) = self.hosts[i].take() {
            host.kill().await;
        }
    }

    /// SIGTERM replica `i`, wait for it to exit cleanly, start it again on
    /// its port and wait until it is ready.
    pub async fn restart(&mut self, db: &TestDb, i: usize) {
        let host = self.hosts[i].take().expect("replica running");
        host.sigterm();
        let status = host.wait().await;
        assert!(status.success(), "replica {i} exited with {status}");
        let host = self.spawn(db, i).await;
        wait_ready(&host.url("/status")).await;
        self.hosts[i] = Some(host);
    }

    /// Base URLs of the running replicas.
    pub fn urls(&self) -> Vec<String> {
        self.hosts
            .iter()
            .flatten()
            .map(|h| h.base.clone())
            .collect()
    }
}

/// Polls `url` until it answers 200.
pub async fn wait_ready(url: &str) {
    let started = Instant::now();
    loop {
        if let Ok(response) = client().get(url).send().await
            && response.status().is_success()
        {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{url} never became ready"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Which proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Nginx,
    Haproxy,
}

/// A running proxy in front of the replicas.
pub struct Proxy {
    child: Child,
    pub base: String,
    _dir: tempfile::TempDir,
}

impl Proxy {
    /// Starts `kind` with its shipped configuration, addresses swapped for
    /// the replicas' loopback ports and a free listen port.
    pub async fn start(kind: Kind, replicas: &Replicas) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("geofn-proxy-")
            .tempdir()
            .unwrap();
        let port = free_port();
        let (shipped, listen_from, listen_to) = match kind {
            Kind::Nginx => (
                deploy_dir().join("compose/nginx/nginx.conf"),
                "listen 80;".to_owned(),
                format!("listen 127.0.0.1:{port};"),
            ),
            Kind::Haproxy => (
                deploy_dir().join("compose/haproxy/haproxy.cfg"),
                "bind :80".to_owned(),
                format!("bind 127.0.0.1:{port}"),
            ),
        };
        let mut config = std::fs::read_to_string(&shipped).unwrap();
        assert!(
            config.contains(&listen_from),
            "{} changed its listen line",
            shipped.display()
        );
        config = config.replace(&listen_from, &listen_to);
        for (i, replica_port) in replicas.ports.iter().enumerate() {
            let name = format!("geofn{}:5000", i + 1);
            assert!(
                config.contains(&name),
                "{} names no {name}",
                shipped.display()
            );
            config = config.replace(&name, &format!("127.0.0.1:{replica_port}"));
        }
        let path = dir.path().join("proxy.conf");
        std::fs::write(&path, &config).unwrap();
        let mut command = match kind {
            Kind::Nginx => {
                let mut c = Command::new("nginx");
                c.arg("-p")
                    .arg(dir.path())
                    .arg("-c")
                    .arg(&path)
                    .arg("-g")
                    .arg(format!(
                        "daemon off; pid {}/nginx.pid; error_log {}/error.log;",
                        dir.path().display(),
                        dir.path().display()
                    ));
                c
            }
            Kind::Haproxy => {
                let mut c = Command::new("haproxy");
                c.arg("-db").arg("-f").arg(&path);
                c
            }
        };
        let output = std::fs::File::create(dir.path().join("output.log")).unwrap();
        let child = command
            .stdout(Stdio::from(output.try_clone().unwrap()))
            .stderr(Stdio::from(output))
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("{kind:?} not runnable (make test-deps): {e}"));
        let base = format!("http://127.0.0.1:{port}");
        wait_ready(&format!("{base}/status")).await;
        if kind == Kind::Haproxy {
            // Let every server pass its first health checks (rise 2, inter 1s).
            tokio::time::sleep(Duration::from_millis(2500)).await;
        }
        Self {
            child,
            base,
            _dir: dir,
        }
    }

    /// `base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The last lines the proxy logged (nginx's error log, HAProxy's output).
    pub fn log_tail(&self, lines: usize) -> String {
        let mut text = String::new();
        for file in ["error.log", "output.log"] {
            text.push_str(
                &std::fs::read_to_string(self._dir.path().join(file)).unwrap_or_default(),
            );
        }
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}
