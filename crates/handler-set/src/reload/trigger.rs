//! What wakes the reload loop: file events, coalesced, and the metadata
//! fingerprint the polling fallback compares.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use notify::event::{AccessKind, AccessMode};
use notify::{Event, EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc;

/// A burst of events is over once none came for this long: `cp` of a
/// component writes in many chunks, a ConfigMap update is several renames.
pub const QUIET: Duration = Duration::from_millis(50);
/// A steady stream of events still reloads after this long.
pub const MAX_SETTLE: Duration = Duration::from_millis(500);

/// Watches `dir` (not its subfolders), and `also` with its subfolders
/// (the variables directory), and sends on `changed` whenever something in
/// them may have changed. A full channel means a wake-up is already
/// pending, which is all the loop needs.
pub fn watch(
    dir: &Path,
    also: Option<&Path>,
    changed: mpsc::Sender<()>,
) -> notify::Result<RecommendedWatcher> {
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<Event>| {
        match event {
            Ok(event) if !is_relevant(&event) => {}
            // An error may mean lost events: wake up and look.
            Ok(_) | Err(_) => {
                let _ = changed.try_send(());
            }
        }
    })?;
    watcher.watch(dir, RecursiveMode::NonRecursive)?;
    // Without events for it, the variables directory still counts at the
    // next reload (and every poll, when polling is on).
    if let Some(also) = also
        && let Err(err) = watcher.watch(also, RecursiveMode::Recursive)
    {
        tracing::warn!(dir = %also.display(), error = %err, "cannot watch the variables directory");
    }
    Ok(watcher)
}

/// Opening and reading files (including our own reads while reloading)
/// changes nothing; closing a file written to does.
fn is_relevant(event: &Event) -> bool {
    match event.kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => true,
    }
}

/// Waits until events stop for [`QUIET`], or [`MAX_SETTLE`] passed.
pub async fn settle(changed: &mut mpsc::Receiver<()>) {
    let deadline = Instant::now() + MAX_SETTLE;
    while Instant::now() < deadline {
        match tokio::time::timeout(QUIET, changed.recv()).await {
            Ok(Some(())) => continue,
            Ok(None) | Err(_) => break,
        }
    }
}

/// Name, size, modification time and inode of one entry.
pub type Stat = (String, u64, Option<SystemTime>, u64);

/// Name, size, modification time and inode of every entry of `dir`, symlinks
/// followed (a Kubernetes ConfigMap update swaps the `..data` symlink, which
/// changes every file's inode). Cheap enough to compare every poll.
pub async fn stat_fingerprint(dir: &Path) -> Vec<Stat> {
    use std::os::unix::fs::MetadataExt;
    let mut entries = Vec::new();
    let Ok(mut dir_entries) = tokio::fs::read_dir(dir).await else {
        return entries;
    };
    while let Ok(Some(entry)) = dir_entries.next_entry().await {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Ok(meta) = tokio::fs::metadata(entry.path()).await {
            entries.push((name, meta.len(), meta.modified().ok(), meta.ino()));
        }
    }
    entries.sort();
    entries
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{CreateKind, ModifyKind, RenameMode};

    #[test]
    fn reads_do_not_wake_the_loop_but_writes_and_renames_do() {
        let event = |kind| Event::new(kind);
        assert!(!is_relevant(&event(EventKind::Access(AccessKind::Open(
            AccessMode::Any
        )))));
        assert!(!is_relevant(&event(EventKind::Access(AccessKind::Close(
            AccessMode::Read
        )))));
        assert!(is_relevant(&event(EventKind::Access(AccessKind::Close(
            AccessMode::Write
        )))));
        assert!(is_relevant(&event(EventKind::Create(CreateKind::File))));
        assert!(is_relevant(&event(EventKind::Modify(ModifyKind::Name(
            RenameMode::To
        )))));
    }
}
