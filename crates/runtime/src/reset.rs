//! How a pooled instance slot is wiped between requests.
//!
//! With `PAGEMAP_SCAN` (Linux 6.7+) wasmtime resets only the pages a
//! request wrote: it asks the kernel for the written pages and restores
//! those. Pages the kernel pushed to swap count: the scan asks for pages
//! written and present *or swapped* (wasmtime 48.0.11's fix, carried on
//! 48.0.10 by `vendor/wasmtime.patch`), so a swapped page is brought back
//! and reset with the rest. Until then the scan asked for present pages
//! only and the next request in the slot could read a swapped one
//! (`tests/freshness.rs` found 112 copies of a marker with wasmtime 48.0.8),
//! which is why the host used to reset in full wherever swap was reachable
//! and stopped if swap appeared.
//!
//! The full reset stays for kernels without the scan and for operators who
//! want it: the first [`FULL_RESET_KEEP_RESIDENT`] bytes by `memset`, the
//! rest returned to the kernel by `madvise(MADV_DONTNEED)`; about twice the
//! host CPU of an empty request (docs/security.md).

use wasmtime::PoolingAllocationConfig;

/// Bytes of each linear memory reset by `memset` in the full reset: the
/// rest is decommitted, and faults back in zeroed when touched. Smaller
/// than the scan's keep-resident size, since every one of these bytes is
/// written on every request whether the request touched it or not.
pub const FULL_RESET_KEEP_RESIDENT: usize = 64 << 10;

/// How slots are reset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MemoryReset {
    /// Only the pages a request wrote, resident or swapped (`PAGEMAP_SCAN`).
    Scan,
    /// Every page: `memset` of the first part, `madvise` of the rest.
    #[default]
    Full,
}

/// What the operator asked for (`--memory-reset auto|scan|full`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResetSetting {
    /// The scan where the kernel offers it, else the full reset.
    #[default]
    Auto,
    /// The scan (wasmtime resets every page up to its keep-resident size by
    /// `memset` where the kernel lacks it: slower than `full`).
    Scan,
    /// The full reset always.
    Full,
}

impl ResetSetting {
    /// Every setting's name, as the command line spells it.
    pub const NAMES: [&'static str; 3] = ["auto", "scan", "full"];

    /// The reset to run with on this kernel.
    pub fn choose(self) -> MemoryReset {
        match self {
            ResetSetting::Auto if !PoolingAllocationConfig::is_pagemap_scan_available() => {
                MemoryReset::Full
            }
            ResetSetting::Auto | ResetSetting::Scan => MemoryReset::Scan,
            ResetSetting::Full => MemoryReset::Full,
        }
    }
}

impl std::str::FromStr for ResetSetting {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "auto" => Ok(ResetSetting::Auto),
            "scan" => Ok(ResetSetting::Scan),
            "full" => Ok(ResetSetting::Full),
            other => Err(format!("{other:?} is not one of auto, scan, full")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_named_setting_parses() {
        for name in ResetSetting::NAMES {
            assert!(name.parse::<ResetSetting>().is_ok(), "{name}");
        }
        assert!("swap".parse::<ResetSetting>().is_err());
    }
}
