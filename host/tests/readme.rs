//! The README's "Write your own handler" commands, as written, in a fresh
//! shell, against a `geofn dev` on this machine: what a newcomer types
//! after `make run`. The blocks are read from README.md itself, so the
//! two cannot drift apart.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use support::{Host, TestDb, shipped_handlers, target_dir};
use tokio::process::Command;

/// The section the blocks are taken from.
const SECTION: &str = "## Write your own handler";
/// The port the README's commands name (`make run`'s).
const README_PORT: u16 = 5000;

/// Every `sh` code block of the README section titled `title`.
fn blocks(readme: &str, title: &str) -> Vec<String> {
    let start = readme
        .find(&format!("\n{title}\n"))
        .unwrap_or_else(|| panic!("README.md has no section {title:?}"));
    let section = &readme[start + title.len() + 2..];
    let section = section.find("\n## ").map_or(section, |end| &section[..end]);
    let mut found = Vec::new();
    let mut rest = section;
    while let Some(open) = rest.find("```sh\n") {
        let body = &rest[open + 6..];
        let close = body.find("\n```").expect("a closed code block");
        found.push(body[..close].to_owned());
        rest = &body[close + 4..];
    }
    found
}

/// The README's port if it is free here, else another (a developer's own
/// `make run` may hold it); the blocks are then run with that port.
fn port() -> u16 {
    match std::net::TcpListener::bind(("127.0.0.1", README_PORT)) {
        Ok(_) => README_PORT,
        Err(_) => {
            let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let port = free.local_addr().unwrap().port();
            eprintln!("port {README_PORT} is taken here: the blocks run against {port}");
            port
        }
    }
}

/// The environment of a new terminal of this user, but with `home` as its
/// home (so `~/src/...` and the state a dev server leaves are the test's),
/// and the `geofn` of this build first on the PATH, where `make build`
/// installs it: nothing of this test process's cargo, geofn or database
/// settings.
fn fresh_shell(home: &Path, bin: &Path) -> Command {
    let real_home = PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into()));
    let mut command = Command::new("bash");
    command
        .args(["--noprofile", "--norc", "-e", "-o", "pipefail", "-c"])
        .env_clear();
    for (key, value) in std::env::vars_os() {
        let key_text = key.to_string_lossy();
        let leaks = key_text.starts_with("CARGO")
            || key_text.starts_with("RUST")
            || key_text.starts_with("GEOFN_")
            || key_text.starts_with("DB_")
            || key_text.starts_with("DATABASE_")
            || key_text == "HOME";
        if !leaks {
            command.env(&key, &value);
        }
    }
    let path = std::env::var("PATH").unwrap_or_default();
    let user_dir = |var: &str, default: &str| {
        std::env::var_os(var).map_or_else(|| real_home.join(default), PathBuf::from)
    };
    command
        .env("HOME", home)
        .env("PATH", format!("{}:{path}", bin.display()))
        // Where this user's toolchains live, which a login finds from its
        // own home: the test's home is not theirs.
        .env("CARGO_HOME", user_dir("CARGO_HOME", ".cargo"))
        .env("RUSTUP_HOME", user_dir("RUSTUP_HOME", ".rustup"))
        .env("PYENV_ROOT", user_dir("PYENV_ROOT", ".pyenv"))
        // Downloads kept across runs; the commands are unchanged by it.
        .env("PIP_CACHE_DIR", target_dir().join("pip-cache"));
    command
}

/// Runs `block` as a script of its own in a fresh shell; its output.
async fn run(block: &str, home: &Path, bin: &Path) -> String {
    eprintln!("$ {}", block.replace('\n', "\n$ "));
    let output = tokio::time::timeout(
        Duration::from_secs(900),
        fresh_shell(home, bin).arg(block).output(),
    )
    .await
    .expect("the block finished within 15 minutes")
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the README block failed ({}):\n{block}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        output.status
    );
    eprintln!("{stdout}");
    stdout
}

#[tokio::test(flavor = "multi_thread")]
async fn the_readmes_write_your_own_handler_blocks_run_as_written() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .unwrap();
    let blocks = blocks(&readme, SECTION);
    assert!(
        blocks.len() >= 2,
        "the README shows a Rust and a Python handler: {blocks:?}"
    );
    let home = tempfile::Builder::new()
        .prefix("geofn-readme-")
        .tempdir_in("/tmp")
        .unwrap();
    let bin = home.path().join(".local/bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_geofn"), bin.join("geofn")).unwrap();

    // What `make run` leaves running: a dev server with no token given.
    let port = port();
    let db = TestDb::start();
    let mut dev = Command::new(env!("CARGO_BIN_EXE_geofn"));
    dev.arg("dev")
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .arg("--handlers")
        .arg(shipped_handlers())
        .arg("--data-dir")
        .arg(home.path().join(".geofn"))
        .env("HOME", home.path())
        .env("DATABASE_URL", db.cluster.url())
        .env("GEOFN_CACHE_DIR", target_dir().join("test-cache"))
        .env_remove("GEOFN_ADMIN_TOKEN");
    let _server = Host::spawn(dev).await;

    let mut outputs = Vec::new();
    for block in &blocks {
        let block = block.replace(
            &format!("127.0.0.1:{README_PORT}"),
            &format!("127.0.0.1:{port}"),
        );
        outputs.push(run(&block, home.path(), &bin).await);
    }
    // Each block ends by reading back what it stored, through the handler
    // it pushed.
    for (block, output) in blocks.iter().zip(&outputs) {
        assert!(
            output.contains("\"FeatureCollection\"") && output.contains("Paris"),
            "the block's last answer is not the stored point:\n{block}\n---\n{output}"
        );
    }
}
