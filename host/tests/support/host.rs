//! A real `geofn` process, started against a test's cluster, with its logs.

use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use super::{TestDb, target_dir};

/// How long a host may take to compile its handlers and connect: a Python
/// component (a whole CPython) compiles in about 40 s of CPU, longer on a
/// machine busy with the rest of the suite.
const START_TIMEOUT: Duration = Duration::from_secs(180);

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

    /// CPU time the process has used so far, user and system (utime and
    /// stime of `/proc/PID/stat`, in clock ticks).
    pub fn cpu_time(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap();
        // Fields after the command name, which is in parentheses and may
        // hold spaces: state is field 3, utime 14, stime 15.
        let after_name = &stat[stat.rfind(')').unwrap() + 2..];
        let fields: Vec<u64> = after_name
            .split(' ')
            .skip(11)
            .take(2)
            .map(|f| f.parse().unwrap())
            .collect();
        let ticks = fields[0] + fields[1];
        Duration::from_secs_f64(ticks as f64 / rustix::param::clock_ticks_per_second() as f64)
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
