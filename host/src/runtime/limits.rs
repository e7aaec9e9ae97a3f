//! What one request may use, per handler; defaults apply where the manifest
//! and the command line are silent.

use std::time::Duration;

use serde::Deserialize;

/// Wall-clock time one request may spend in its handler, database calls
/// included. Generous for a CRUD call, short enough that a stuck handler
/// frees its slot before a client's or proxy's own timeout (30 s in the
/// guide's HAProxy config).
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(10);
/// Linear memory one instance may grow to: a 10,000-point listing needs a
/// few MiB; 64 MiB leaves room without letting 1000 instances eat the host.
pub const DEFAULT_MEMORY_BYTES: usize = 64 << 20;
/// Largest request body: a point is under 200 bytes; 1 MiB leaves room for
/// batch or GeoJSON bodies while bounding what one request can make us buffer.
pub const DEFAULT_BODY_BYTES: usize = 1 << 20;
/// Hard ceiling for any handler's memory limit (sizes the allocator's slots).
pub const DEFAULT_MAX_MEMORY_BYTES: usize = 256 << 20;

/// Limits enforced on one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock deadline of the whole call.
    pub deadline: Duration,
    /// Linear-memory cap of the instance.
    pub memory_bytes: usize,
    /// Request-body cap; larger bodies get 413 before the handler runs.
    pub body_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            deadline: DEFAULT_DEADLINE,
            memory_bytes: DEFAULT_MEMORY_BYTES,
            body_bytes: DEFAULT_BODY_BYTES,
        }
    }
}

/// Per-handler overrides as written in `geofn.toml` (`[handlers.x.limits]`).
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LimitOverrides {
    /// Deadline in milliseconds.
    pub deadline_ms: Option<u64>,
    /// Memory cap in MiB.
    pub memory_mib: Option<usize>,
    /// Body cap in KiB.
    pub body_kib: Option<usize>,
}

impl Limits {
    /// These limits with a handler's overrides applied.
    pub fn with(self, overrides: LimitOverrides) -> Self {
        Self {
            deadline: overrides
                .deadline_ms
                .map_or(self.deadline, Duration::from_millis),
            memory_bytes: overrides
                .memory_mib
                .map_or(self.memory_bytes, |mib| mib << 20),
            body_bytes: overrides.body_kib.map_or(self.body_bytes, |kib| kib << 10),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_replace_only_what_they_name() {
        let limits = Limits::default().with(LimitOverrides {
            memory_mib: Some(8),
            ..LimitOverrides::default()
        });
        assert_eq!(limits.memory_bytes, 8 << 20);
        assert_eq!(limits.deadline, DEFAULT_DEADLINE);
        assert_eq!(limits.body_bytes, DEFAULT_BODY_BYTES);
    }
}
