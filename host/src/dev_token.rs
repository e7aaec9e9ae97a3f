//! The admin token of a local `geofn dev` server: made on its first start,
//! kept in its data directory (owner-only), and announced per port in the
//! user's state directory, so that `geofn push`, `rollback` and `handlers`
//! aimed at that server on this machine need no token to be typed.
//!
//! `geofn serve` never makes one: a production server has admin routes only
//! with a token its operator chose.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The token's file inside the data directory.
pub const TOKEN_FILE: &str = "admin-token";
/// Random bytes in a token (shown as hex).
const TOKEN_BYTES: usize = 32;

/// The data directory's admin token: the one kept there, or a new one
/// written owner-only. Returns it and whether it was just made.
pub fn load_or_create(data_dir: &Path) -> std::io::Result<(String, bool)> {
    let path = data_dir.join(TOKEN_FILE);
    if let Ok(token) = fs::read_to_string(&path) {
        let token = token.trim().to_owned();
        if !token.is_empty() {
            // Whatever made it, keep it to its owner.
            fs::set_permissions(&path, fs::Permissions::from_mode(0o600))?;
            return Ok((token, false));
        }
    }
    fs::create_dir_all(data_dir)?;
    let mut bytes = [0u8; TOKEN_BYTES];
    getrandom::fill(&mut bytes).map_err(|err| std::io::Error::other(err.to_string()))?;
    let token = hex::encode(bytes);
    write_private(&path, &token)?;
    Ok((token, true))
}

/// Where running dev servers say which token is theirs, by port:
/// `$XDG_STATE_HOME/geofn/dev-servers`, else `~/.local/state/geofn/dev-servers`.
fn announcements() -> Option<PathBuf> {
    let state = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .filter(|dir| dir.is_absolute())
        .or_else(|| {
            std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local/state"))
        })?;
    Some(state.join("geofn/dev-servers"))
}

/// Records that the dev server listening on `port` keeps its token at
/// `token_file`. Best effort: without it, commands need `--token`.
pub fn announce(port: u16, token_file: &Path) {
    let Some(dir) = announcements() else { return };
    let written = fs::create_dir_all(&dir)
        .and_then(|()| fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)))
        .and_then(|()| {
            let absolute = std::path::absolute(token_file)?;
            write_private(&dir.join(port.to_string()), &absolute.to_string_lossy())
        });
    if let Err(err) = written {
        tracing::warn!(dir = %dir.display(), error = %err, "cannot record the dev server's token for geofn push");
    }
}

/// Forgets the announcement of `port` (the server is stopping).
pub fn withdraw(port: u16) {
    if let Some(dir) = announcements() {
        let _ = fs::remove_file(dir.join(port.to_string()));
    }
}

/// The token of the dev server that announced `port` on this machine, and
/// the file it came from, if there is one.
pub fn announced(port: u16) -> Option<(String, PathBuf)> {
    let pointer = fs::read_to_string(announcements()?.join(port.to_string())).ok()?;
    let file = PathBuf::from(pointer.trim());
    let token = fs::read_to_string(&file).ok()?.trim().to_owned();
    (!token.is_empty()).then_some((token, file))
}

/// Writes `text` to `path`, readable and writable by its owner only, from
/// the moment it exists.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    let temporary = path.with_extension("tmp");
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temporary)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    fs::rename(&temporary, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_made_once_owner_only_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let (first, made) = load_or_create(dir.path()).unwrap();
        assert!(made);
        assert_eq!(first.len(), 2 * TOKEN_BYTES);
        let mode = fs::metadata(dir.path().join(TOKEN_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let (again, made) = load_or_create(dir.path()).unwrap();
        assert!(!made);
        assert_eq!(first, again);
    }
}
