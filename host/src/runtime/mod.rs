//! The wasm side of the host: one engine, components compiled once and
//! pre-linked once, a fresh limited store per request.
//!
//! - [`limits`]: per-handler limits and their defaults.
//! - [`guest`]: the store's data: WASI with nothing granted, the request's
//!   database session, and the `db`/`log` imports implemented on it.
//! - [`call`]: one request through one handler, with its deadline.

pub mod call;
pub mod guest;
pub mod limits;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

pub use call::CallError;
pub use guest::GuestState;
pub use limits::Limits;

use crate::bindings::{Handler, HandlerPre};

/// Wall-clock granularity of deadlines and of guest yields to tokio: a
/// guest that never calls the host still gives its worker back this often.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);
/// Instances that may exist at once (requests inside wasm at the same
/// time); the pooling allocator reserves their slots up front.
pub const MAX_CONCURRENT_INSTANCES: u32 = 1000;
/// Core modules, memories and tables a Rust `wasm32-wasip2` component
/// instantiates: its own module plus the shims `wit-component` adds.
const CORE_INSTANCES_PER_COMPONENT: u32 = 8;
const MEMORIES_PER_COMPONENT: u32 = 2;
const TABLES_PER_COMPONENT: u32 = 4;

/// Why a component was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    /// Not a component wasmtime can compile (not wasm, a core module, corrupt).
    #[error("not a valid component: {0:#}")]
    Invalid(wasmtime::Error),
    /// A component, but not of the `geofn:handler` world (missing export,
    /// unknown imports, or types that differ).
    #[error("does not implement the geofn:handler world: {0:#}")]
    WrongWorld(wasmtime::Error),
}

/// The engine, the linker with every import a handler may use, and the
/// epoch ticker that enforces deadlines.
pub struct Runtime {
    engine: Engine,
    linker: Linker<GuestState>,
    max_memory_bytes: usize,
    ticker_stop: Arc<AtomicBool>,
}

impl Runtime {
    /// Builds the engine. `max_memory_bytes` bounds every handler's memory
    /// limit: it sizes the pooling allocator's memory slots.
    pub fn new(max_memory_bytes: usize) -> wasmtime::Result<Self> {
        let mut pooling = PoolingAllocationConfig::default();
        pooling
            .total_component_instances(MAX_CONCURRENT_INSTANCES)
            .total_core_instances(MAX_CONCURRENT_INSTANCES * CORE_INSTANCES_PER_COMPONENT)
            .total_memories(MAX_CONCURRENT_INSTANCES * MEMORIES_PER_COMPONENT)
            .total_tables(MAX_CONCURRENT_INSTANCES * TABLES_PER_COMPONENT)
            .total_stacks(MAX_CONCURRENT_INSTANCES)
            .max_memories_per_component(MEMORIES_PER_COMPONENT)
            .max_tables_per_component(TABLES_PER_COMPONENT)
            .max_memory_size(max_memory_bytes);
        let mut config = Config::new();
        config
            .wasm_component_model(true)
            .epoch_interruption(true)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pooling));
        let engine = Engine::new(&config)?;

        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        Handler::add_to_linker::<GuestState, HasSelf<GuestState>>(&mut linker, |state| state)?;

        let ticker_stop = Arc::new(AtomicBool::new(false));
        spawn_epoch_ticker(engine.clone(), ticker_stop.clone());
        Ok(Self {
            engine,
            linker,
            max_memory_bytes,
            ticker_stop,
        })
    }

    /// The largest memory limit a handler may ask for.
    pub fn max_memory_bytes(&self) -> usize {
        self.max_memory_bytes
    }

    /// Compiles a component and checks it against the `handler` world.
    /// CPU-heavy (cranelift): call it off the async workers.
    pub fn prepare(&self, bytes: &[u8]) -> Result<HandlerPre<GuestState>, CompileError> {
        let component = Component::new(&self.engine, bytes).map_err(CompileError::Invalid)?;
        let instance_pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(CompileError::WrongWorld)?;
        HandlerPre::new(instance_pre).map_err(CompileError::WrongWorld)
    }

    pub(crate) fn engine(&self) -> &Engine {
        &self.engine
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}

/// Advances the engine's epoch every [`EPOCH_TICK`] on a plain thread, so it
/// keeps ticking even when every tokio worker is busy running guests.
fn spawn_epoch_ticker(engine: Engine, stop: Arc<AtomicBool>) {
    std::thread::Builder::new()
        .name("geofn-epoch".into())
        .spawn(move || {
            let mut next = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                next += EPOCH_TICK;
                std::thread::sleep(next.saturating_duration_since(Instant::now()));
                engine.increment_epoch();
            }
        })
        .expect("spawning the epoch thread");
}
