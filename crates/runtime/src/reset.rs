//! How a pooled instance slot is wiped between requests, and why that
//! depends on swap.
//!
//! With `PAGEMAP_SCAN` (Linux 6.7+) wasmtime resets only the pages a
//! request wrote: it asks the kernel for the pages that are written *and
//! present*. A written page the kernel has pushed to swap is not present,
//! so it is neither reset nor decommitted, and the next request in that
//! slot reads the previous one's bytes (`tests/freshness.rs` shows it with
//! wasmtime 48.0.8; wasmtime PR #14357 reports it). So the scan is used only
//! where no page of this process can reach swap; elsewhere every slot is
//! reset in full: the first [`FULL_RESET_KEEP_RESIDENT`] bytes by `memset`
//! (a swapped page is brought back and zeroed), the rest returned to the
//! kernel by `madvise(MADV_DONTNEED)` (which drops swapped pages too).
//!
//! Swap switched on while the host runs with the scan would reopen the
//! hole: [`watch`] notices within [`WATCH_EVERY`] and stops the host, to
//! be restarted (by its supervisor) with the full reset.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::system::swap_reachable;

/// Bytes of each linear memory reset by `memset` in the full reset: the
/// rest is decommitted, and faults back in zeroed when touched. Smaller
/// than the scan's keep-resident size, since every one of these bytes is
/// written on every request whether the request touched it or not.
pub const FULL_RESET_KEEP_RESIDENT: usize = 64 << 10;
/// How often the scan's safety is checked while serving.
pub const WATCH_EVERY: Duration = Duration::from_secs(2);

/// How slots are reset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MemoryReset {
    /// Only the pages a request wrote (`PAGEMAP_SCAN`): safe only without swap.
    Scan,
    /// Every page: `memset` of the first part, `madvise` of the rest.
    #[default]
    Full,
}

/// What the operator asked for (`--memory-reset auto|scan|full`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResetSetting {
    /// The scan where no page can reach swap, else the full reset.
    #[default]
    Auto,
    /// The scan even with swap (instances may then read earlier requests'
    /// bytes that went to swap: only for hosts whose swap you control).
    Scan,
    /// The full reset always.
    Full,
}

impl ResetSetting {
    /// Every setting's name, as the command line spells it.
    pub const NAMES: [&'static str; 3] = ["auto", "scan", "full"];

    /// The reset to run with now.
    pub fn choose(self) -> MemoryReset {
        match self {
            ResetSetting::Auto if swap_reachable() => MemoryReset::Full,
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

/// While the host resets by scan because there was no swap, checks that
/// there still is none; if swap appears, logs why and cancels `shutdown`.
/// Resolves to whether it did.
pub fn watch(
    reset: MemoryReset,
    setting: ResetSetting,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<bool> {
    tokio::spawn(async move {
        if reset != MemoryReset::Scan || setting != ResetSetting::Auto {
            return false;
        }
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return false,
                () = tokio::time::sleep(WATCH_EVERY) => {}
            }
            if swap_reachable() {
                tracing::error!(
                    "swap was switched on while instances are reset by PAGEMAP_SCAN, which misses \
                     swapped pages: stopping so that a restart resets them in full"
                );
                shutdown.cancel();
                return true;
            }
        }
    })
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
