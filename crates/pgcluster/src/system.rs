//! The machine around a cluster: where PostgreSQL's binaries are, which
//! account runs them, free ports, private files, commands that must succeed.

use std::fs;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::error::ClusterError;

/// Runs `command` (named `what` in errors), which must succeed: its
/// output, or what it printed when it failed.
pub fn checked(command: &mut Command, what: &str) -> Result<Output, ClusterError> {
    let output = command.output().map_err(|e| ClusterError::Command {
        command: what.to_owned(),
        detail: e.to_string(),
    })?;
    if output.status.success() {
        Ok(output)
    } else {
        Err(ClusterError::Command {
            command: what.to_owned(),
            detail: format!(
                "{} {}",
                String::from_utf8_lossy(&output.stderr).trim(),
                String::from_utf8_lossy(&output.stdout).trim()
            ),
        })
    }
}

/// `$GEOFN_PG_BIN`, the newest `/usr/lib/postgresql/*/bin` (Debian keeps the
/// server binaries off PATH), or the folder of `initdb` on PATH.
pub fn find_bin_dir() -> Option<PathBuf> {
    let has_tools = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    if let Some(dir) = std::env::var_os("GEOFN_PG_BIN").map(PathBuf::from) {
        return has_tools(&dir).then_some(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .filter(|(_, dir)| has_tools(dir))
        .collect();
    versions.sort();
    if let Some((_, dir)) = versions.pop() {
        return Some(dir);
    }
    std::env::var_os("PATH")
        .and_then(|path| std::env::split_paths(&path).find(|dir| has_tools(dir)))
}

/// Whether this process runs as root (PostgreSQL will not).
pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// The uid and gid of the system account `user`.
pub fn system_ids(user: &str) -> Result<(u32, u32), ClusterError> {
    let id = |flag: &str| -> Result<u32, ClusterError> {
        let output = Command::new("id")
            .args([flag, user])
            .output()
            .map_err(|_| ClusterError::NoSystemUser)?;
        if !output.status.success() {
            return Err(ClusterError::NoSystemUser);
        }
        String::from_utf8_lossy(&output.stdout)
            .trim()
            .parse()
            .map_err(|_| ClusterError::NoSystemUser)
    };
    Ok((id("-u")?, id("-g")?))
}

/// A loopback port free at this moment.
pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A password for the cluster's superuser: 144 random bits, as hex.
pub fn random_password() -> Result<String, ClusterError> {
    let mut bytes = [0u8; 18];
    getrandom::fill(&mut bytes).map_err(|err| ClusterError::Io {
        path: PathBuf::from("getrandom"),
        source: std::io::Error::other(err.to_string()),
    })?;
    Ok(hex::encode(bytes))
}

/// Writes `contents` to `path`, readable by its owner only.
pub fn write_private(path: &Path, contents: &str) -> Result<(), ClusterError> {
    fs::write(path, contents).map_err(io(path))?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o600)).map_err(io(path))
}

/// Maps an I/O error on `path` to [`ClusterError::Io`].
pub fn io(path: &Path) -> impl Fn(std::io::Error) -> ClusterError + '_ {
    move |source| ClusterError::Io {
        path: path.to_owned(),
        source,
    }
}
