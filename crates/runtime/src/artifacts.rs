//! Compiled components kept on disk as wasmtime's own precompiled artifacts
//! and mapped back in on the next start.
//!
//! wasmtime's built-in cache stores artifacts zstd-compressed and keys them
//! by hashing the component on every load: a restart with the 19 MB Python
//! component spent 64–316 ms inflating and copying about 40 MB of machine
//! code. A precompiled artifact loaded with
//! [`Component::deserialize_file`] is mapped, not read: pages come in as the
//! code runs.
//!
//! The folder is the operator's: whoever can write in it can run code in
//! the host, as with wasmtime's cache. It is created owner-only.

use std::collections::hash_map::DefaultHasher;
use std::fs;
use std::hash::{Hash, Hasher};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::SystemTime;

use wasmtime::Engine;
use wasmtime::component::Component;

/// Artifacts kept; the least recently used beyond this are deleted. Each
/// pushed version of a handler adds one.
const MAX_ARTIFACTS: usize = 64;
const EXTENSION: &str = "cwasm";

/// A folder of precompiled components, keyed by the component's SHA-256
/// and the engine's compatibility hash (wasmtime version, target, every
/// setting that changes the code).
pub struct ArtifactCache {
    dir: PathBuf,
    engine_key: String,
    hits: AtomicUsize,
    misses: AtomicUsize,
}

impl ArtifactCache {
    /// Opens (creating) `dir` for artifacts of `engine`.
    pub fn open(dir: &Path, engine: &Engine) -> io::Result<Self> {
        create_private_dir(dir)?;
        let mut hasher = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Ok(Self {
            dir: dir.to_owned(),
            engine_key: format!("{:016x}", hasher.finish()),
            hits: AtomicUsize::new(0),
            misses: AtomicUsize::new(0),
        })
    }

    /// The compiled component for `bytes` (whose hex SHA-256 is `sha256`):
    /// mapped from the folder when an artifact is there, else compiled and
    /// stored. A damaged or stale artifact is deleted and compiled again;
    /// failing to store one only costs the next start a compile.
    pub fn load_or_compile(
        &self,
        engine: &Engine,
        bytes: &[u8],
        sha256: &str,
    ) -> wasmtime::Result<Component> {
        let path = self.path_for(sha256);
        if path.exists() {
            match load(engine, &path) {
                Ok(component) => {
                    self.hits.fetch_add(1, Ordering::Relaxed);
                    mark_used(&path);
                    return Ok(component);
                }
                Err(error) => {
                    tracing::warn!(path = %path.display(), %error, "compiled artifact unusable; compiling again");
                    let _ = fs::remove_file(&path);
                }
            }
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let component = Component::new(engine, bytes)?;
        if let Err(error) = self.store(&path, &component) {
            tracing::warn!(path = %path.display(), %error, "could not cache the compiled component");
        }
        Ok(component)
    }

    /// Loads served from the folder, and compiles.
    pub fn counts(&self) -> (usize, usize) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }

    fn path_for(&self, sha256: &str) -> PathBuf {
        self.dir
            .join(format!("{sha256}-{}.{EXTENSION}", self.engine_key))
    }

    /// Writes beside and renames, so a concurrent start never maps half a
    /// file and a mapped artifact is never written to.
    fn store(&self, path: &Path, component: &Component) -> wasmtime::Result<()> {
        let serialized = component.serialize()?;
        let partial = path.with_extension(format!("{EXTENSION}.{}.tmp", std::process::id()));
        fs::write(&partial, serialized)?;
        fs::rename(&partial, path)?;
        self.prune();
        Ok(())
    }

    /// Deletes the least recently used artifacts beyond [`MAX_ARTIFACTS`].
    /// Deleting a file a running host has mapped is safe: the mapping
    /// keeps its pages.
    fn prune(&self) {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return;
        };
        let mut artifacts: Vec<(SystemTime, PathBuf)> = entries
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == EXTENSION))
            .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
            .collect();
        if artifacts.len() <= MAX_ARTIFACTS {
            return;
        }
        artifacts.sort();
        for (_, stale) in &artifacts[..artifacts.len() - MAX_ARTIFACTS] {
            let _ = fs::remove_file(stale);
        }
    }
}

/// Maps a precompiled artifact.
#[allow(
    unsafe_code,
    reason = "deserialize_file trusts the file to be wasmtime's own output: the \
              folder is the operator's and owner-only, files are only ever \
              written by `store` (whole, then renamed), and wasmtime checks the \
              header and the engine's compatibility before using it"
)]
fn load(engine: &Engine, path: &Path) -> wasmtime::Result<Component> {
    // SAFETY: see the reason above; the file is never modified in place.
    unsafe { Component::deserialize_file(engine, path) }
}

/// Moves `path` to the young end of the pruning order.
fn mark_used(path: &Path) {
    if let Ok(file) = fs::File::options().append(true).open(path) {
        let _ = file.set_modified(SystemTime::now());
    }
}

fn create_private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The smallest component: a component header and nothing else.
    const EMPTY_COMPONENT: &[u8] = b"\0asm\x0d\0\x01\0";
    /// Any key will do for these tests: the cache trusts its caller's.
    const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    /// Loads the empty component through `cache`, compiling it on a miss.
    fn load_empty(cache: &ArtifactCache, engine: &Engine) {
        cache
            .load_or_compile(engine, EMPTY_COMPONENT, EMPTY_SHA256)
            .unwrap();
    }

    #[test]
    fn a_second_load_maps_the_stored_artifact() {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::default();
        let cache = ArtifactCache::open(dir.path(), &engine).unwrap();
        load_empty(&cache, &engine);
        assert_eq!(cache.counts(), (0, 1));
        load_empty(&cache, &engine);
        assert_eq!(cache.counts(), (1, 1));
        let again = ArtifactCache::open(dir.path(), &engine).unwrap();
        load_empty(&again, &engine);
        assert_eq!(again.counts(), (1, 0), "a restart finds it");
    }

    #[test]
    fn a_damaged_artifact_is_compiled_again_and_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::default();
        let cache = ArtifactCache::open(dir.path(), &engine).unwrap();
        load_empty(&cache, &engine);
        let path = cache.path_for(EMPTY_SHA256);
        fs::write(&path, b"not an artifact").unwrap();
        load_empty(&cache, &engine);
        assert_eq!(cache.counts(), (0, 2));
        load_empty(&cache, &engine);
        assert_eq!(cache.counts(), (1, 2), "the replacement loads");
    }

    #[test]
    fn another_engine_setting_misses() {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::default();
        ArtifactCache::open(dir.path(), &engine)
            .unwrap()
            .load_or_compile(&engine, EMPTY_COMPONENT, EMPTY_SHA256)
            .unwrap();
        let mut config = wasmtime::Config::new();
        config.epoch_interruption(true);
        let other = Engine::new(&config).unwrap();
        let cache = ArtifactCache::open(dir.path(), &other).unwrap();
        cache
            .load_or_compile(&other, EMPTY_COMPONENT, EMPTY_SHA256)
            .unwrap();
        assert_eq!(cache.counts(), (0, 1));
    }

    #[test]
    fn old_artifacts_beyond_the_limit_are_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::default();
        let cache = ArtifactCache::open(dir.path(), &engine).unwrap();
        for n in 0..MAX_ARTIFACTS + 3 {
            let name = format!("{n:064x}-x.{EXTENSION}");
            fs::write(dir.path().join(name), b"").unwrap();
        }
        cache.prune();
        let left = fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(left, MAX_ARTIFACTS);
    }
}
