//! What one request leaves in linear memory, and whether the next finds it.
//!
//! `scatter` writes a marker derived from a seed into many pages that are
//! not next to each other (so the host sees more dirty regions than a
//! `PAGEMAP_SCAN` of 32 regions reports), then holds the instance open on
//! a database sleep, so the test can push those pages to swap before the
//! host resets the slot. `scan` searches the whole linear memory for that
//! marker. The marker itself is never stored by `scan`: it compares each
//! byte against a masked copy, so finding it means a previous request's
//! bytes are still there.

// Reading every byte of linear memory, whatever owns it, is the point.
#![allow(unsafe_code)]

use core::hint::black_box;

use geofn_guest::Response;
use geofn_guest::db::{self, Value};
use geofn_guest::http;
use serde_json::json;

/// Bytes of the marker.
const MARKER_LEN: usize = 32;
/// Host pages are 4 KiB: marking every other one keeps each marked page a
/// region of its own.
const STRIDE: usize = 8 << 10;
/// Stored instead of the marker where the scanner needs it.
const MASK: u8 = 0xA5;

/// Byte `i` of the marker of `seed` (splitmix64).
fn marker_byte(seed: u64, i: usize) -> u8 {
    let mut z = seed.wrapping_add((i as u64 / 8 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> (8 * (i % 8))) as u8
}

/// Writes the marker of `seed` into `pages` pages, `STRIDE` apart, then
/// waits `hold_ms` on PostgreSQL before answering. With `scan`, also
/// reports how many copies a scan finds before answering (the control).
pub fn scatter(seed: u64, pages: usize, hold_ms: u64, scan_too: bool) -> Response {
    let mut area = vec![0u8; pages * STRIDE];
    for page in 0..pages {
        let at = page * STRIDE;
        for i in 0..MARKER_LEN {
            area[at + i] = marker_byte(seed, i);
        }
    }
    let area = black_box(area);
    if hold_ms > 0
        && let Err(err) = db::query(
            "SELECT 1 FROM pg_sleep($1)",
            &[Value::Float(hold_ms as f64 / 1000.0)],
        )
    {
        return http::json(500, &json!({ "error": format!("{err:?}") }));
    }
    let found = scan_too.then(|| count(seed));
    drop(black_box(area));
    http::json(
        200,
        &json!({ "pages": pages, "bytes": pages * STRIDE, "found": found }),
    )
}

/// How many copies of the marker of `seed` the whole linear memory holds.
pub fn scan(seed: u64) -> Response {
    let (found, bytes) = (count(seed), memory_bytes());
    http::json(200, &json!({ "found": found, "bytes_scanned": bytes }))
}

fn memory_bytes() -> usize {
    #[cfg(target_arch = "wasm32")]
    {
        core::arch::wasm32::memory_size(0) * 65536
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        0
    }
}

fn count(seed: u64) -> usize {
    let masked: [u8; MARKER_LEN] = black_box(core::array::from_fn(|i| marker_byte(seed, i) ^ MASK));
    let len = memory_bytes();
    let mut found = 0;
    // Address 0 is not a valid Rust pointer: start at the first word.
    let mut at = 8;
    while at + MARKER_LEN <= len {
        if matches(at, &masked) {
            found += 1;
            at += MARKER_LEN;
        } else {
            at += 1;
        }
    }
    found
}

fn matches(at: usize, masked: &[u8; MARKER_LEN]) -> bool {
    (0..MARKER_LEN).all(|i| {
        // SAFETY: `at + i` is inside the linear memory (below `memory_size`),
        // and every byte of it is readable from the guest.
        let byte = unsafe { core::ptr::read_volatile((at + i) as *const u8) };
        byte ^ MASK == masked[i]
    })
}
