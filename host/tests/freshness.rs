//! Nothing one request writes into its instance's memory reaches the next
//! request, even when those pages went to swap while it ran.
//!
//! The probe writes a marker across hundreds of scattered pages (far more
//! dirty regions than one `PAGEMAP_SCAN` reports), and holds its instance
//! open on a database sleep; meanwhile the test pushes the host's memory
//! to swap (`process_madvise(MADV_PAGEOUT)` on the host's anonymous
//! mappings, with a swap file of its own switched on). Then many requests,
//! landing on the same pooled slots, search their whole linear memory for
//! the marker. Needs root (swapon, process_madvise on another process).

// process_madvise and pidfd_open on the host process: system calls only.
#![allow(unsafe_code)]

mod support;

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use support::{Host, PROBE_ENTRY, TestDb, client, handlers_dir, test_handler};

/// Requests that search for a marker after it was written.
const SCANS: usize = 100;
/// `MADV_PAGEOUT` (linux/mman.h).
const MADV_PAGEOUT: libc::c_int = 21;

/// A swap file switched on for the test, off and removed when dropped.
struct SwapFile(PathBuf);

impl SwapFile {
    fn on(mib: usize) -> Self {
        let path = PathBuf::from(format!("/var/tmp/geofn-test-swap-{}", std::process::id()));
        let mut file = std::fs::File::create(&path).unwrap();
        let chunk = vec![0u8; 1 << 20];
        for _ in 0..mib {
            file.write_all(&chunk).unwrap();
        }
        file.sync_all().unwrap();
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .unwrap();
        let swap = SwapFile(path);
        for command in ["mkswap", "swapon"] {
            let output = std::process::Command::new(command)
                .arg(&swap.0)
                .output()
                .unwrap_or_else(|e| panic!("{command}: {e} (util-linux, run as root)"));
            assert!(
                output.status.success(),
                "{command} failed (this test needs root): {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        swap
    }
}

impl Drop for SwapFile {
    fn drop(&mut self) {
        let _ = std::process::Command::new("swapoff").arg(&self.0).status();
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Pushes every private anonymous writable mapping of `pid` to swap;
/// returns the process's swapped kilobytes afterwards.
fn page_out(pid: u32) -> u64 {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
    let ranges: Vec<libc::iovec> = maps
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let range = fields.next()?;
            let perms = fields.next()?;
            // Private writable mappings: anonymous ones, and the private
            // copy-on-write mappings of wasmtime's memory images (memfd),
            // whose written pages are anonymous too.
            if !perms.starts_with("rw") || !perms.ends_with('p') {
                return None;
            }
            let (start, end) = range.split_once('-')?;
            let start = usize::from_str_radix(start, 16).ok()?;
            let end = usize::from_str_radix(end, 16).ok()?;
            Some(libc::iovec {
                iov_base: start as *mut libc::c_void,
                iov_len: end - start,
            })
        })
        .collect();
    // SAFETY: plain system calls; the iovecs name ranges of the other
    // process, which the kernel checks.
    unsafe {
        let pidfd = libc::syscall(libc::SYS_pidfd_open, pid as libc::c_int, 0) as libc::c_int;
        assert!(
            pidfd >= 0,
            "pidfd_open: {}",
            std::io::Error::last_os_error()
        );
        for chunk in ranges.chunks(512) {
            // Partial failures (a range unmapped meanwhile) only mean less
            // was paged out; the swap figure below is what counts.
            libc::syscall(
                libc::SYS_process_madvise,
                pidfd,
                chunk.as_ptr(),
                chunk.len(),
                MADV_PAGEOUT,
                0u32,
            );
        }
        libc::close(pidfd);
    }
    swapped_kib(pid)
}

fn swapped_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|line| line.strip_prefix("VmSwap:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

async fn get(host: &Host, path: &str) -> Value {
    let response = client().get(host.url(path)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    response.json().await.unwrap()
}

/// Writes a marker across scattered pages while the test pushes the host
/// to swap, then searches for it from [`SCANS`] later requests; the most any of
/// them found.
async fn residue_after_swap(host: &Host, seed: u64) -> u64 {
    let writer = {
        let url = host.url(&format!(
            "/probe/scatter?seed={seed}&pages=300&hold_ms=1500"
        ));
        tokio::spawn(async move { client().get(url).send().await.unwrap().status() })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let swapped = page_out(host.pid());
    assert!(
        swapped > 1024,
        "only {swapped} KiB of the host went to swap"
    );
    assert_eq!(writer.await.unwrap(), StatusCode::OK);
    let mut most = 0;
    // Enough requests for the slot the writer used to come round again
    // (freed slots wait for a batch of decommits before reuse).
    for _ in 0..SCANS {
        let scan = get(host, &format!("/probe/scan?seed={seed}")).await;
        most = most.max(scan["found"].as_u64().unwrap());
    }
    most
}

async fn probe_host(db: &TestDb, dir: &std::path::Path, reset: &str) -> Host {
    let host = Host::serve(db, dir, &["--memory-reset", reset]).await;
    // The control: a scan finds the markers its own request wrote.
    let control = get(&host, "/probe/scatter?seed=7&pages=64&scan=1").await;
    assert!(control["found"].as_u64().unwrap() >= 64, "{control}");
    host
}

#[tokio::test(flavor = "multi_thread")]
async fn no_request_finds_what_the_previous_one_left_even_through_swap() {
    let db = TestDb::start();
    // The probe fresh (`/probe/...`), and again reusing its instances.
    let manifest = format!(
        "{PROBE_ENTRY}\n[handlers.warm]\ncomponent = \"probe.wasm\"\n\
         routes = [\"GET /warm/{{action}}\"]\n[handlers.warm.limits]\n\
         reuse_requests = [50, 100]\n"
    );
    let dir = handlers_dir(&manifest, &[("probe.wasm", test_handler("probe-v1"))]);
    let swap = SwapFile::on(512);

    // With swap, the default still resets slots by PAGEMAP_SCAN, and the
    // scan finds written pages in swap as well as in memory: nothing is
    // found, though instances of the same component beside them are reused
    // and hold a marker of their own. (wasmtime 48.0.8's scan looked for
    // present pages only: here a later request found 112 copies.)
    let scanning = probe_host(&db, dir.path(), "auto").await;
    assert!(
        scanning.logs().contains("memory_reset=Scan"),
        "{}",
        scanning.logs()
    );
    let warm_seed = 0x3a73;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let warm = {
        let (url, stop) = (
            scanning.url(&format!("/warm/scatter?seed={warm_seed}&pages=64")),
            stop.clone(),
        );
        tokio::spawn(async move {
            let mut served = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                assert_eq!(
                    client().get(&url).send().await.unwrap().status(),
                    StatusCode::OK
                );
                served += 1;
            }
            served
        })
    };
    for round in 0..3 {
        let found = residue_after_swap(&scanning, 0x5eed_0000 + round).await;
        assert_eq!(
            found, 0,
            "round {round}: a request found the previous one's marker"
        );
    }
    for _ in 0..SCANS {
        let scan = get(&scanning, &format!("/probe/scan?seed={warm_seed}")).await;
        assert_eq!(
            scan["found"], 0,
            "a fresh instance found a reused one's marker"
        );
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(warm.await.unwrap() > 10, "the reusing handler barely ran");
    drop(scanning);

    // The full reset, for kernels without the scan or by choice: the same.
    let full = probe_host(&db, dir.path(), "full").await;
    assert!(full.logs().contains("memory_reset=Full"), "{}", full.logs());
    let found = residue_after_swap(&full, 0x5eed_1000).await;
    assert_eq!(found, 0, "a request found the previous one's marker");
    drop(swap);
}
