//! What one request may use, per handler; defaults apply where the manifest
//! and the command line are silent.

use std::time::Duration;

use geofn_contract::limits::LimitOverrides;
use serde::{Deserialize, Serialize};

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
/// Core and component instances one request may create: a Rust
/// `wasm32-wasip2` component makes about 5; the cap stops runaway nesting.
pub const DEFAULT_MAX_INSTANCES: usize = 32;
/// Tables one request may create (the component plus its shims use 2-3).
pub const DEFAULT_MAX_TABLES: usize = 32;
/// Time a request may compute at full speed before it is throttled to a
/// twentieth of a core: 20 ms of wasm is far beyond a CRUD or query handler's
/// needs, short enough that a runaway barely dents its neighbours.
pub const DEFAULT_CPU_GRACE: Duration = Duration::from_millis(20);
/// Elements any one table may grow to (indirect-call tables of Rust
/// components hold hundreds to a few thousand functions).
pub const DEFAULT_MAX_TABLE_ELEMENTS: usize = 100_000;
/// Database connections one handler may hold at once when neither the
/// manifest nor the command line says: half of the default pool, so that
/// one handler (slow queries, a flood) can never hold every connection and
/// its neighbours always find some.
pub const DEFAULT_DB_CONNECTIONS: usize = geofn_db::pool::DEFAULT_POOL_SIZE / 2;
/// How long a request waits for its turn under `max_concurrency` before a
/// 503: a queue, like a WSGI server's backlog, that a burst rides out and a
/// sustained overload does not grow without end.
pub const CONCURRENCY_WAIT: Duration = Duration::from_secs(1);

/// Default for how long a parked instance may wait for its next request.
pub const DEFAULT_IDLE: Duration = Duration::from_secs(30);
/// How long instances of one handler live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReusePolicy {
    /// Fewest requests an instance serves before it is retired.
    pub min_requests: u32,
    /// Most requests an instance serves.
    pub max_requests: u32,
    /// Longest wait for a next request.
    pub idle: Duration,
}

impl ReusePolicy {
    /// How many requests a new instance will serve, at random in the range.
    pub(crate) fn draw(&self) -> u32 {
        let (low, high) = (
            self.min_requests.max(1),
            self.max_requests.max(self.min_requests.max(1)),
        );
        fastrand::u32(low..=high)
    }
}

/// Limits enforced on one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock deadline of the whole call.
    pub deadline: Duration,
    /// Linear-memory cap of the instance.
    pub memory_bytes: usize,
    /// Request-body cap; larger bodies get 413 before the handler runs.
    pub body_bytes: usize,
    /// Instances one request may create.
    pub instances: usize,
    /// Tables one request may create.
    pub tables: usize,
    /// Elements one table may hold.
    pub table_elements: usize,
    /// Computation at full speed before throttling.
    pub cpu_grace: Duration,
    /// Database connections the handler may hold at once (its share of
    /// the pool); a request waiting beyond it gets `unavailable`.
    pub db_connections: usize,
    /// Instances serve several requests in turn (off: a fresh one each).
    pub reuse: Option<ReusePolicy>,
    /// Requests of this handler inside wasm at once; the next wait their
    /// turn (a 503 after [`CONCURRENCY_WAIT`]). Unset: only the memory
    /// budget bounds them. Each instance at once is a memory slot kept
    /// warm: a CPython heap is ~7 MB resident per slot, and on a few cores
    /// a handler that computes more than it waits gains nothing from more
    /// instances than cores.
    pub max_concurrency: Option<usize>,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            deadline: DEFAULT_DEADLINE,
            memory_bytes: DEFAULT_MEMORY_BYTES,
            body_bytes: DEFAULT_BODY_BYTES,
            instances: DEFAULT_MAX_INSTANCES,
            tables: DEFAULT_MAX_TABLES,
            table_elements: DEFAULT_MAX_TABLE_ELEMENTS,
            cpu_grace: DEFAULT_CPU_GRACE,
            db_connections: DEFAULT_DB_CONNECTIONS,
            reuse: None,
            max_concurrency: None,
        }
    }
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
            instances: overrides.instances.unwrap_or(self.instances),
            tables: overrides.tables.unwrap_or(self.tables),
            table_elements: overrides.table_elements.unwrap_or(self.table_elements),
            cpu_grace: overrides
                .cpu_grace_ms
                .map_or(self.cpu_grace, Duration::from_millis),
            db_connections: overrides.db_connections.unwrap_or(self.db_connections),
            reuse: match overrides.reuse_requests {
                Some([min_requests, max_requests]) => Some(ReusePolicy {
                    min_requests,
                    max_requests,
                    idle: overrides
                        .reuse_idle_ms
                        .map_or(DEFAULT_IDLE, Duration::from_millis),
                }),
                None => self.reuse,
            },
            max_concurrency: overrides
                .max_concurrency
                .map(|n| n.max(1))
                .or(self.max_concurrency),
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
