//! The per-request floor without HTTP: CALLS fresh instances of the empty
//! handler, instantiated and called the way the host does, either one after
//! another on one task (criterion's hot loop: the same pool slot every
//! time) or CONCURRENCY at a time (requests cycling through many slots, as
//! under load). Prints what each call cost the process: CPU, page faults,
//! context switches. `loadtest/floor.sh` runs it under `perf stat` for the
//! TLB flushes and system calls, and against the HTTP host.
//!
//!   cargo run --release -p geofn --example floor -- CALLS CONCURRENCY

#[path = "../benches/empty/mod.rs"]
mod empty;

use std::sync::Arc;
use std::time::Instant;

/// Resource usage of the whole process so far: std has no getrusage.
#[allow(unsafe_code)]
fn usage() -> libc::rusage {
    // SAFETY: getrusage fills the struct it is given and keeps no pointer.
    unsafe {
        let mut usage = std::mem::zeroed::<libc::rusage>();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    }
}

fn micros(time: libc::timeval) -> f64 {
    time.tv_sec as f64 * 1e6 + time.tv_usec as f64
}

fn main() {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<usize>());
    let calls = args.next().and_then(Result::ok).unwrap_or(100_000);
    let concurrency = args.next().and_then(Result::ok).unwrap_or(1).max(1);
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let handler = Arc::new(tokio.block_on(async { empty::EmptyHandler::new() }));
    // Warm up: the slots, the allocator, the code.
    tokio.block_on(run(&handler, concurrency.min(calls), concurrency));
    let before = usage();
    let started = Instant::now();
    tokio.block_on(run(&handler, calls, concurrency));
    let wall = started.elapsed();
    let after = usage();
    let per = |a: f64, b: f64| (a - b) / calls.max(1) as f64;
    let cpu = per(
        micros(after.ru_utime) + micros(after.ru_stime),
        micros(before.ru_utime) + micros(before.ru_stime),
    );
    println!(
        "calls={calls} concurrency={concurrency} wall_us={:.2} cpu_us={cpu:.2} \
         minor_faults={:.3} voluntary_switches={:.3} involuntary_switches={:.3}",
        wall.as_secs_f64() * 1e6 / calls.max(1) as f64,
        per(after.ru_minflt as f64, before.ru_minflt as f64),
        per(after.ru_nvcsw as f64, before.ru_nvcsw as f64),
        per(after.ru_nivcsw as f64, before.ru_nivcsw as f64),
    );
}

/// `calls` calls, `concurrency` of them in flight at a time.
async fn run(handler: &Arc<empty::EmptyHandler>, calls: usize, concurrency: usize) {
    let mut workers = Vec::new();
    for worker in 0..concurrency {
        let handler = handler.clone();
        let share = calls / concurrency + usize::from(worker < calls % concurrency);
        workers.push(tokio::spawn(async move {
            for _ in 0..share {
                handler.call_once().await;
            }
        }));
    }
    for worker in workers {
        worker.await.unwrap();
    }
}
