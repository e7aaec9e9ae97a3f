//! Per-handler limits as a manifest writes them (`[limits]`): each one
//! optional, the host's defaults where all are silent.

use serde::{Deserialize, Serialize};

/// Per-handler overrides as written in `geofn.toml` (`[handlers.x.limits]`),
/// or stored with a pushed version.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LimitOverrides {
    /// Deadline in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deadline_ms: Option<u64>,
    /// Memory cap in MiB.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_mib: Option<usize>,
    /// Body cap in KiB.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_kib: Option<usize>,
    /// Instance cap.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instances: Option<usize>,
    /// Table cap.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tables: Option<usize>,
    /// Table-size cap, in elements.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table_elements: Option<usize>,
    /// Full-speed computation before throttling, in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_grace_ms: Option<u64>,
    /// The handler's share of the database pool, in connections.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub db_connections: Option<usize>,
    /// Reuse instances: each serves between these many requests (drawn at
    /// random) before it is retired. Absent: a fresh instance per request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reuse_requests: Option<[u32; 2]>,
    /// With reuse: retire an instance that waited this long for a request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reuse_idle_ms: Option<u64>,
    /// Requests of the handler running at once; more wait their turn.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_concurrency: Option<usize>,
}

impl LimitOverrides {
    /// These overrides, and `fallback`'s where these are silent: the
    /// manifest entry's over the component's own.
    pub fn or(self, fallback: LimitOverrides) -> Self {
        Self {
            deadline_ms: self.deadline_ms.or(fallback.deadline_ms),
            memory_mib: self.memory_mib.or(fallback.memory_mib),
            body_kib: self.body_kib.or(fallback.body_kib),
            instances: self.instances.or(fallback.instances),
            tables: self.tables.or(fallback.tables),
            table_elements: self.table_elements.or(fallback.table_elements),
            cpu_grace_ms: self.cpu_grace_ms.or(fallback.cpu_grace_ms),
            db_connections: self.db_connections.or(fallback.db_connections),
            reuse_requests: self.reuse_requests.or(fallback.reuse_requests),
            reuse_idle_ms: self.reuse_idle_ms.or(fallback.reuse_idle_ms),
            max_concurrency: self.max_concurrency.or(fallback.max_concurrency),
        }
    }
}
