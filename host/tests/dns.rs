//! The database's name is looked up hedged: a resolver that drops a query
//! (glibc then waits its 5 s timeout before asking again) costs a
//! connection a quarter of a second, not the timeout; a resolver gone
//! quiet (podman's aardvark-dns while it reloads) costs a swap half a
//! second, the name's last addresses used meanwhile.
//!
//! A stop is not held by the queries still out (a blocking thread each).
//!
//! The host runs in a mount namespace of its own (`unshare -m`, as root)
//! whose `/etc/resolv.conf` names a resolver this test serves on a
//! loopback address: the system's real resolver path (glibc's
//! getaddrinfo), with a lost packet.

mod support;

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use support::{Host, PROBE_ENTRY, TestDb, client, handlers_dir, publish, test_handler};
use tokio::net::UdpSocket;

const NAME: &str = "db.geofn.test";

/// A DNS server answering `NAME` with 127.0.0.1 (A) and no addresses
/// (AAAA), that drops the very first query it receives, and every query
/// while it is `quiet`.
struct FlakyResolver {
    address: Ipv4Addr,
    queries: Arc<AtomicUsize>,
    quiet: Arc<AtomicBool>,
}

impl FlakyResolver {
    async fn start() -> Self {
        // A loopback address of its own, port 53 (resolv.conf has no port).
        let socket = (2..250)
            .map(|n| Ipv4Addr::new(127, 0, 53, n))
            .find_map(|ip| std::net::UdpSocket::bind((ip, 53)).ok())
            .expect("no free loopback address for the test resolver");
        socket.set_nonblocking(true).unwrap();
        let socket = UdpSocket::from_std(socket).unwrap();
        let address = match socket.local_addr().unwrap().ip() {
            std::net::IpAddr::V4(ip) => ip,
            other => panic!("{other}"),
        };
        let queries = Arc::new(AtomicUsize::new(0));
        let seen = queries.clone();
        let quiet = Arc::new(AtomicBool::new(false));
        let silent = quiet.clone();
        tokio::spawn(async move {
            let mut buffer = [0u8; 512];
            while let Ok((len, from)) = socket.recv_from(&mut buffer).await {
                if seen.fetch_add(1, Ordering::SeqCst) == 0 || silent.load(Ordering::SeqCst) {
                    continue; // lost
                }
                if let Some(answer) = answer(&buffer[..len]) {
                    let _ = socket.send_to(&answer, from).await;
                }
            }
        });
        Self {
            address,
            queries,
            quiet,
        }
    }
}

/// The answer to one query: the header's id, the question echoed, and an
/// A record for `NAME` (NXDOMAIN for other names).
fn answer(query: &[u8]) -> Option<Vec<u8>> {
    if query.len() < 12 {
        return None;
    }
    // The question: labels up to the zero byte, then type and class.
    let mut end = 12;
    let mut labels = Vec::new();
    loop {
        let len = *query.get(end)? as usize;
        end += 1;
        if len == 0 {
            break;
        }
        labels.push(String::from_utf8_lossy(query.get(end..end + len)?).to_lowercase());
        end += len;
    }
    let qtype = u16::from_be_bytes([*query.get(end)?, *query.get(end + 1)?]);
    end += 4;
    let ours = labels.join(".") == NAME;
    let mut out = Vec::with_capacity(end + 16);
    out.extend_from_slice(&query[..2]);
    // Response, recursion desired and available; NXDOMAIN for other names.
    out.extend_from_slice(&[0x81, if ours { 0x80 } else { 0x83 }]);
    let answers: u16 = if ours && qtype == 1 { 1 } else { 0 };
    out.extend_from_slice(&[0, 1]);
    out.extend_from_slice(&answers.to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(&query[12..end]);
    if answers == 1 {
        // Name by pointer to the question, A, IN, TTL 0, 4 bytes.
        out.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 127, 0, 0, 1]);
    }
    Some(out)
}

/// The host serving the probe from `dir`, in a mount namespace whose
/// resolver is `resolver`, reaching the database by `NAME`.
async fn host_resolving_through(
    db: &TestDb,
    resolver: &FlakyResolver,
    dir: &std::path::Path,
    state: &std::path::Path,
) -> Host {
    let resolv_conf = state.join("resolv.conf");
    std::fs::write(
        &resolv_conf,
        format!(
            "nameserver {}\noptions timeout:5 attempts:2\n",
            resolver.address
        ),
    )
    .unwrap();
    let plain = Host::serve_command(db, dir);
    let plain = plain.as_std();
    let url = db.cluster.url().replace("127.0.0.1", NAME);
    let mut command = tokio::process::Command::new("unshare");
    command
        .args([
            "-m",
            "sh",
            "-c",
            "mount --bind \"$1\" /etc/resolv.conf && shift && exec \"$@\"",
            "sh",
        ])
        .arg(&resolv_conf)
        .arg(plain.get_program())
        .args(plain.get_args())
        .args(["--listen", "127.0.0.1:0"]);
    for (key, value) in plain.get_envs() {
        if let Some(value) = value {
            command.env(key, value);
        }
    }
    command.env("DATABASE_URL", &url);
    Host::spawn(command).await
}

/// The probe's session route answers: the handler's own pool, as its
/// role, reached the database by name.
async fn assert_handler_connects(host: &Host) {
    let response = client()
        .get(host.url("/probe/session"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{}", host.logs());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dropped_dns_query_costs_a_hedge_not_the_resolver_timeout() {
    let db = TestDb::start();
    let resolver = FlakyResolver::start().await;
    let state = tempfile::tempdir().unwrap();
    let dir = handlers_dir(PROBE_ENTRY, &[("probe.wasm", test_handler("probe-v1"))]);
    let started = Instant::now();
    let host = host_resolving_through(&db, &resolver, dir.path(), state.path()).await;
    let ready = started.elapsed();
    let queries = resolver.queries.load(Ordering::SeqCst);
    assert!(
        queries >= 2,
        "the host asked the test resolver {queries} times"
    );
    // Without the hedge the first connection waits glibc's 5 s timeout.
    assert!(
        ready < Duration::from_secs(4),
        "ready after {ready:?}: the dropped query was waited out\n{}",
        host.logs()
    );
    assert_eq!(
        client()
            .get(host.url("/status"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    // And the handlers' own connections (their role, their pool) too.
    assert_handler_connects(&host).await;
    eprintln!("ready after {ready:?}; {queries} DNS queries, the first dropped");
}

/// A host serving the probe with the database reached by name through
/// `resolver`; then the resolver goes quiet (glibc would wait 5 s twice,
/// and a hedge beside it as long) and a version whose migration needs a
/// connection of its own is published.
struct QuietSwap {
    host: Host,
    /// From the publishing to the new version's reload.
    swapped: Duration,
    /// Queries the resolver had had when it went quiet.
    asked_before: usize,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

async fn swap_with_resolver_quiet(db: &TestDb, resolver: &FlakyResolver) -> QuietSwap {
    let state = tempfile::tempdir().unwrap();
    let dir = handlers_dir(PROBE_ENTRY, &[("probe.wasm", test_handler("probe-v1"))]);
    let host = host_resolving_through(db, resolver, dir.path(), state.path()).await;
    resolver.quiet.store(true, Ordering::SeqCst);
    let asked_before = resolver.queries.load(Ordering::SeqCst);
    let published = Instant::now();
    let bytes = std::fs::read(test_handler("probe-more")).unwrap();
    publish(dir.path(), "probe.wasm", &bytes);
    assert!(
        host.wait_for_log("handler set reloaded", Duration::from_secs(30))
            .await,
        "the new version never came in: {}",
        host.logs()
    );
    QuietSwap {
        host,
        swapped: published.elapsed(),
        asked_before,
        _dirs: (state, dir),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_quiet_resolver_does_not_hold_up_a_swap_that_migrates() {
    let db = TestDb::start();
    let resolver = FlakyResolver::start().await;
    // `_dirs` bound: the folders must outlive the host.
    let QuietSwap {
        host,
        swapped,
        _dirs,
        ..
    } = swap_with_resolver_quiet(&db, &resolver).await;
    assert!(
        host.logs()
            .contains("connecting to the addresses the name had last"),
        "{}",
        host.logs()
    );
    assert!(
        swapped < Duration::from_secs(3),
        "the swap waited {swapped:?} for a quiet resolver: {}",
        host.logs()
    );
    let migrated = db
        .client()
        .await
        .query_one(
            "SELECT count(*) FROM geofn_handler_migrations WHERE id = '0002-note-length'",
            &[],
        )
        .await
        .unwrap()
        .get::<_, i64>(0);
    assert_eq!(migrated, 1, "the new version's migration did not run");
    assert_handler_connects(&host).await;
    eprintln!("swapped {swapped:?} after the resolver went quiet");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_quiet_resolver_does_not_hold_up_a_stop() {
    let db = TestDb::start();
    let resolver = FlakyResolver::start().await;
    // The swap's new connection sent queries into the quiet; each blocks
    // a thread until glibc gives it up (5 s, twice).
    let QuietSwap {
        host,
        asked_before,
        _dirs,
        ..
    } = swap_with_resolver_quiet(&db, &resolver).await;
    assert!(
        resolver.queries.load(Ordering::SeqCst) > asked_before,
        "the swap sent no DNS query"
    );
    let stopping = Instant::now();
    let status = host.terminate().await;
    let stopped = stopping.elapsed();
    assert!(status.success(), "geofn exited with {status}");
    // Drained at once (no request in flight), then at most 2 s for the
    // blocking tasks: not the 10 s glibc holds a query for.
    assert!(
        stopped < Duration::from_secs(5),
        "SIGTERM took {stopped:?}: the stop waited for DNS queries"
    );
    eprintln!("stopped {stopped:?} after SIGTERM with DNS queries out");
}
