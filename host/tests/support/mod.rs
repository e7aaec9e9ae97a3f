//! Test harness: private PostgreSQL clusters and real `geofn` processes.
//!
//! Every test gets its own cluster (initdb in a temporary folder, a free
//! loopback port) and spawns the real binary with real components built
//! from `handlers/` by `make handlers`.

#![allow(dead_code)]

pub mod admin;
pub mod load;
pub mod metrics;
pub mod otlp;
pub mod topology;
pub mod traced;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use geofn_pgcluster::{ClusterOptions, PgCluster};
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// How long a host may take to compile its handlers and connect: a Python
/// component (a whole CPython) compiles in about 40 s of CPU, longer on a
/// machine busy with the rest of the suite.
const START_TIMEOUT: Duration = Duration::from_secs(180);

/// The cargo target folder the test binary was built into.
pub fn target_dir() -> PathBuf {
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_geofn"));
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>/geofn")
        .to_owned()
}

/// The shipped handlers directory assembled by `make handlers`.
pub fn shipped_handlers() -> PathBuf {
    let dir = target_dir().join("handlers");
    assert!(
        dir.join("geofn.toml").exists(),
        "{} has no geofn.toml: run `make handlers` before `cargo test`",
        dir.display()
    );
    dir
}

/// A shipped component, from `target/handlers`.
pub fn shipped(name: &str) -> PathBuf {
    existing(shipped_handlers().join(format!("{name}.wasm")))
}

/// A test-only component (`probe-v1`, `probe-v2`), from `target/test-handlers`.
pub fn test_handler(name: &str) -> PathBuf {
    existing(
        target_dir()
            .join("test-handlers")
            .join(format!("{name}.wasm")),
    )
}

fn existing(path: PathBuf) -> PathBuf {
    assert!(
        path.exists(),
        "{} missing: run `make handlers`",
        path.display()
    );
    path
}

/// The manifest entry that mounts the probe under `/probe/{action}`.
pub const PROBE_ENTRY: &str =
    "[handlers.probe]\ncomponent = \"probe.wasm\"\nroutes = [\"GET /probe/{action}\"]\n";

/// A handlers directory with `manifest` and the given files copied in.
pub fn handlers_dir(manifest: &str, files: &[(&str, PathBuf)]) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("geofn.toml"), manifest).unwrap();
    for (name, source) in files {
        std::fs::copy(source, dir.path().join(name)).unwrap();
    }
    dir
}

/// Replaces `dir/name` with `bytes` atomically (write, then rename), as
/// deploy tools and `make handlers` do.
pub fn publish(dir: &Path, name: &str, bytes: &[u8]) {
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, dir.join(name)).unwrap();
}

/// Every shipped component, as (file name, path), in `target/handlers`.
pub fn shipped_components() -> Vec<(String, PathBuf)> {
    let mut found: Vec<(String, PathBuf)> = std::fs::read_dir(shipped_handlers())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "wasm"))
        .map(|path| {
            (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                path,
            )
        })
        .collect();
    found.sort();
    assert!(
        !found.is_empty(),
        "no shipped components: run `make handlers`"
    );
    found
}

/// Writes the shipped manifest with `extra_manifest` appended, and copies
/// every shipped component plus `extra` files, into `dir`.
pub fn write_shipped_plus(dir: &Path, extra_manifest: &str, extra: &[(&str, PathBuf)]) {
    let shipped_manifest = std::fs::read_to_string(shipped_handlers().join("geofn.toml")).unwrap();
    std::fs::write(
        dir.join("geofn.toml"),
        format!("{shipped_manifest}\n{extra_manifest}"),
    )
    .unwrap();
    for (name, source) in shipped_components() {
        std::fs::copy(source, dir.join(name)).unwrap();
    }
    for (name, source) in extra {
        std::fs::copy(source, dir.join(name)).unwrap();
    }
}

/// A handlers directory: everything shipped, plus `extra_manifest` and
/// `extra` files (test components).
pub fn shipped_plus(extra_manifest: &str, extra: &[(&str, PathBuf)]) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    write_shipped_plus(dir.path(), extra_manifest, extra);
    dir
}

/// The points API written in Python (`make python-handlers`).
pub fn python_points() -> PathBuf {
    let path = target_dir().join("python-handlers/points.wasm");
    assert!(
        path.exists(),
        "{} missing: run `make python-handlers`",
        path.display()
    );
    path
}

/// Everything shipped, with the points handler in Python instead of Rust:
/// same name, routes and migrations, so the rest of the fleet is unchanged.
pub fn shipped_with_python_points() -> TempDir {
    let dir = shipped_plus("", &[]);
    std::fs::copy(python_points(), dir.path().join("points.wasm")).unwrap();
    dir
}

/// The shipped handlers plus the probe (v1).
pub fn points_and_probe() -> TempDir {
    shipped_plus(PROBE_ENTRY, &[("probe.wasm", test_handler("probe-v1"))])
}

/// A private PostgreSQL cluster for one test.
pub struct TestDb {
    pub cluster: PgCluster,
    options: ClusterOptions,
    _dir: TempDir,
}

impl TestDb {
    /// Starts a fresh cluster; durability settings off, it is thrown away.
    pub fn start() -> Self {
        Self::start_with(ClusterOptions::default())
    }

    /// Starts a fresh cluster with extra options.
    pub fn start_with(mut options: ClusterOptions) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("geofn-pg-")
            .tempdir_in("/tmp")
            .unwrap();
        options.settings.extend([
            ("fsync".into(), "off".into()),
            ("full_page_writes".into(), "off".into()),
        ]);
        options.immediate_stop = true;
        let cluster =
            PgCluster::start(dir.path(), options.clone()).expect("starting a test cluster");
        Self {
            cluster,
            options,
            _dir: dir,
        }
    }

    /// A streaming replica of this cluster (`pg_basebackup -R`), with the
    /// extra server `settings` (e.g. `recovery_min_apply_delay`).
    pub fn standby(&self, settings: &[(&str, &str)]) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("geofn-pg-standby-")
            .tempdir_in("/tmp")
            .unwrap();
        let mut options = self.options.clone();
        options
            .settings
            .extend(settings.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let cluster = PgCluster::start_standby(dir.path(), &self.cluster, options.clone())
            .expect("starting a standby");
        Self {
            cluster,
            options,
            _dir: dir,
        }
    }

    /// Stops PostgreSQL (immediate: like a crash of the database server).
    pub fn stop(&mut self) {
        self.cluster.stop().unwrap();
    }

    /// Starts it again on the same port.
    pub fn restart(&mut self) {
        self.cluster.restart(&self.options).unwrap();
    }

    /// A direct connection as the cluster's superuser, to check what the
    /// host stored; the points handler's schema is first on its search path.
    pub async fn client(&self) -> tokio_postgres::Client {
        let mut config = self.cluster.config();
        config.options("-c search_path=points,public");
        let (client, connection) = config
            .connect(tokio_postgres::NoTls)
            .await
            .expect("connecting to the test cluster");
        tokio::spawn(connection);
        client
    }

    /// Stores named points straight in the table (no handler involved), for
    /// tests that read them back through the API.
    pub async fn insert_points(&self, points: &[(&str, f64, f64)]) {
        let client = self.client().await;
        for (name, lon, lat) in points {
            client
                .execute(
                    "INSERT INTO points (name, geom) VALUES ($1, ST_SetSRID(ST_MakePoint($2, $3), 4326))",
                    &[name, lon, lat],
                )
                .await
                .unwrap();
        }
    }

    /// Rows in `points`.
    pub async fn count_points(&self) -> i64 {
        self.client()
            .await
            .query_one("SELECT count(*) FROM points", &[])
            .await
            .unwrap()
            .get(0)
    }
}

/// A running `geofn` process.
pub struct Host {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    logs: Arc<Mutex<String>>,
}

impl Host {
    /// `geofn serve` against `db` with the handlers in `handlers`.
    pub async fn serve(db: &TestDb, handlers: &Path, extra: &[&str]) -> Self {
        let mut args = vec!["--listen", "127.0.0.1:0"];
        args.extend_from_slice(extra);
        Self::serve_exact(db, handlers, &args).await
    }

    /// `geofn serve` with exactly these flags (including `--listen`).
    pub async fn serve_exact(db: &TestDb, handlers: &Path, args: &[&str]) -> Self {
        let mut command = Self::serve_command(db, handlers);
        command.args(args);
        Self::spawn(command).await
    }

    /// The `geofn serve` command [`serve`](Self::serve) runs, without
    /// `--listen`, for a test that adds flags or environment of its own.
    pub fn serve_command(db: &TestDb, handlers: &Path) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_geofn"));
        command
            .arg("serve")
            .arg("--handlers")
            .arg(handlers)
            .env("DATABASE_URL", db.cluster.url())
            // Shared by the suite so each component compiles once; tests of
            // the cache itself pass --cache-dir.
            .env("GEOFN_CACHE_DIR", target_dir().join("test-cache"));
        command
    }

    /// Spawns `command` (a `geofn` invocation) and waits until it listens.
    pub async fn spawn(command: Command) -> Self {
        match Self::try_spawn(command).await {
            Ok(host) => host,
            Err(logs) => panic!("geofn did not start; its log:\n{logs}"),
        }
    }

    /// Like [`spawn`](Self::spawn), but a process that exits (or never
    /// listens) is an `Err` with its log.
    pub async fn try_spawn(mut command: Command) -> Result<Self, String> {
        for var in [
            "DB_HOST",
            "DB_PORT",
            "DB_NAME",
            "DB_USER",
            "DB_PASSWORD",
            "DB_PASS",
            // A test turns traces on by setting these itself.
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "OTEL_TRACES_EXPORTER",
            "OTEL_EXPORTER_OTLP_PROTOCOL",
        ] {
            // Unless the test set it: only what leaks from the caller's
            // environment goes.
            let set_here = command.as_std().get_envs().any(|(key, _)| key == var);
            if !set_here {
                command.env_remove(var);
            }
        }
        // A `geofn dev` records its admin token's place in the user's state
        // directory: keep the tests' records out of the real one, unless the
        // test chose a home of its own.
        let own_home = command
            .as_std()
            .get_envs()
            .any(|(key, _)| key == "HOME" || key == "XDG_STATE_HOME");
        if !own_home {
            command.env("XDG_STATE_HOME", target_dir().join("test-state"));
        }
        command
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().expect("spawning geofn");
        let logs = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = logs.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let mut logs = sink.lock().unwrap();
                logs.push_str(&line);
                logs.push('\n');
            }
        });
        let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let base = tokio::time::timeout(START_TIMEOUT, async {
            while let Ok(Some(line)) = stdout.next_line().await {
                if let Some(url) = line.strip_prefix("geofn listening on ") {
                    return Some(url.to_owned());
                }
            }
            None
        })
        .await
        .ok()
        .flatten();
        let Some(base) = base else {
            let _ = child.start_kill();
            let _ = child.wait().await;
            // Let the stderr reader catch the last lines.
            tokio::time::sleep(Duration::from_millis(50)).await;
            return Err(logs.lock().unwrap().clone());
        };
        tokio::spawn(async move { while let Ok(Some(_)) = stdout.next_line().await {} });
        Ok(Self { child, base, logs })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id().expect("running")
    }

    /// Resident memory of the process, in bytes.
    pub fn rss_bytes(&self) -> u64 {
        self.memory_status("VmRSS:")
    }

    /// The most resident memory the process has had so far, in bytes.
    pub fn peak_rss_bytes(&self) -> u64 {
        self.memory_status("VmHWM:")
    }

    /// A `kB` line of `/proc/PID/status`, in bytes.
    fn memory_status(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap();
        kib << 10
    }

    /// Sends SIGTERM without waiting.
    pub fn sigterm(&self) {
        rustix::process::kill_process(
            rustix::process::Pid::from_raw(self.pid() as i32).unwrap(),
            rustix::process::Signal::TERM,
        )
        .unwrap();
    }

    /// Waits for the process to exit.
    pub async fn wait(mut self) -> std::process::ExitStatus {
        tokio::time::timeout(Duration::from_secs(60), self.child.wait())
            .await
            .expect("geofn did not exit")
            .unwrap()
    }

    /// Everything the process logged so far.
    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().clone()
    }

    /// Waits until `cond` holds on the logs, up to `timeout`.
    pub async fn wait_for_log(&self, needle: &str, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        while tokio::time::Instant::now() < deadline {
            if self.logs().contains(needle) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }

    /// `base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// SIGKILL, no chance to clean up: what a crash or OOM kill looks like.
    pub async fn kill(mut self) {
        self.child.start_kill().unwrap();
        self.child.wait().await.unwrap();
    }

    /// SIGTERM, then waits for the exit status.
    pub async fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().expect("running") as i32;
        rustix::process::kill_process(
            rustix::process::Pid::from_raw(pid).unwrap(),
            rustix::process::Signal::TERM,
        )
        .unwrap();
        tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("geofn did not exit after SIGTERM")
            .unwrap()
    }
}

/// The version the probe at `base` says it is (`GET /probe/version`),
/// if it answers.
pub async fn probe_version(base: &str) -> Option<String> {
    let body: serde_json::Value = client()
        .get(format!("{base}/probe/version"))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    body["version"].as_str().map(str::to_owned)
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A client that never follows redirects or retries.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// What the host answers to a request whose head announces `length` body
/// bytes that never follow: the status and the `Content-Type`.
///
/// A limit must be enforced from `Content-Length` alone. Sending the body
/// too would race the host's early 413 against the client's write (the host
/// closes the connection, the client's write fails with a broken pipe), so
/// the answer is read straight off a raw socket.
pub async fn status_for_announced_body(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    length: usize,
) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Length: {length}\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let mut chunk = [0u8; 1024];
    while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk))
            .await
            .expect("no answer to an announced body")
            .unwrap();
        assert!(n > 0, "connection closed before an answer");
        answer.extend_from_slice(&chunk[..n]);
    }
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {text}"));
    let content_type = text
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-type")
                .then(|| value.trim().to_owned())
        })
        .unwrap_or_default();
    (status, content_type)
}

/// The JSON body of `GET url`, for checks that only look at the body.
pub async fn get_json<T: serde::de::DeserializeOwned>(url: impl reqwest::IntoUrl) -> T {
    client()
        .get(url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// What a POST answered: the status, the `Location` of what it created,
/// and the JSON body (`Null` when there is none).
pub struct Posted {
    pub status: reqwest::StatusCode,
    pub location: Option<String>,
    pub body: serde_json::Value,
}

/// `POST url` with a JSON `body` given as text (so tests can send broken JSON).
pub async fn post_json_text(url: impl reqwest::IntoUrl, body: String) -> Posted {
    let response = client()
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let location = response
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned());
    Posted {
        status,
        location,
        body: response.json().await.unwrap_or_default(),
    }
}
