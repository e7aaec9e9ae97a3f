//! Runaway guests: a loop that never yields, memory grown until it fails, memory touched and held.

use geofn_guest::http;
use geofn_guest::{Request, Response};
use serde_json::json;

use crate::args::param;

#[allow(clippy::empty_loop)]
pub fn spin() -> Response {
    let mut n: u64 = 0;
    loop {
        n = std::hint::black_box(n.wrapping_add(1));
    }
}

pub fn hog() -> Response {
    let mut kept: Vec<Vec<u8>> = Vec::new();
    loop {
        // Touch every page so the memory is really committed.
        kept.push(vec![1u8; 1 << 20]);
        std::hint::black_box(&kept);
    }
}

/// Allocates and writes `mib` MiB, then keeps it for `hold_ms`.
pub fn touch(request: &Request) -> Response {
    let mib: usize = param(request, "mib")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let hold_ms: u64 = param(request, "hold_ms")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut memory = vec![0u8; mib << 20];
    // One write per 4 KiB page: every page really committed.
    for page in memory.chunks_mut(4096) {
        page[0] = 1;
    }
    std::hint::black_box(&memory);
    std::thread::sleep(std::time::Duration::from_millis(hold_ms));
    let touched: usize = memory.iter().step_by(4096).map(|&b| b as usize).sum();
    http::json(200, &json!({ "touched_pages": touched }))
}
