//! The store's resource limits, remembering how large the instance's
//! memories have grown.
//!
//! A reused instance carries its heap from request to request, and a guest
//! that leaks a little per request (componentize-py 0.25.1 keeps each
//! response body it returns) would end in an out-of-memory trap and a 500
//! on some unlucky request. Knowing the high-water mark lets the host retire
//! such an instance while it is still healthy.

use wasmtime::{ResourceLimiter, StoreLimits};

/// [`StoreLimits`] plus the largest size any memory of the store was
/// allowed to grow to.
pub struct WatchedLimits {
    limits: StoreLimits,
    largest_memory: usize,
}

impl WatchedLimits {
    /// Watches `limits`.
    pub fn new(limits: StoreLimits) -> Self {
        Self {
            limits,
            largest_memory: 0,
        }
    }

    /// The largest memory of the store so far, in bytes.
    pub fn largest_memory(&self) -> usize {
        self.largest_memory
    }
}

impl ResourceLimiter for WatchedLimits {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = self.limits.memory_growing(current, desired, maximum)?;
        if allowed {
            self.largest_memory = self.largest_memory.max(desired);
        }
        Ok(allowed)
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.limits.memory_grow_failed(error)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.limits.table_growing(current, desired, maximum)
    }

    fn table_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.limits.table_grow_failed(error)
    }

    fn instances(&self) -> usize {
        self.limits.instances()
    }

    fn tables(&self) -> usize {
        self.limits.tables()
    }

    fn memories(&self) -> usize {
        self.limits.memories()
    }
}
