//! The engine: one wasmtime engine with the pooling allocator, the linker
//! with every import a handler may use, components compiled once (and
//! cached) and pre-linked once, and the epoch ticker behind deadlines.

use std::time::Duration;

use std::path::PathBuf;

use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{
    Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, ProfilingStrategy,
};

use crate::artifacts::ArtifactCache;
use crate::bindings::HandlerPre;
use crate::bindings::geofn::handler::{db, identity, log, route, trace, types};
use crate::bindings::wasi::config::store;
use crate::guest::GuestState;
use crate::reset::{FULL_RESET_KEEP_RESIDENT, MemoryReset};
use crate::ticker::EpochTicker;

/// Wall-clock granularity of deadlines and of guest yields to tokio: a
/// guest that never calls the host still gives its worker back this often,
/// so a request queued behind a busy guest waits at most about this long.
/// 1 ms keeps that wait within the p99 of a database round trip; the ticker
/// costs one wake-up per millisecond while any call is in flight, none
/// while the host is idle ([`EpochTicker`]).
pub const EPOCH_TICK: Duration = Duration::from_millis(1);
/// Instances that may exist at once (requests inside wasm at the same
/// time); the pooling allocator reserves their slots up front.
pub const MAX_CONCURRENT_INSTANCES: u32 = 1000;
/// First four bytes of every wasm binary, core module or component.
const WASM_MAGIC: &[u8] = b"\0asm";
/// Core modules, memories and tables a Rust `wasm32-wasip2` component
/// instantiates: its own module plus the shims `wit-component` adds.
const CORE_INSTANCES_PER_COMPONENT: u32 = 8;
const MEMORIES_PER_COMPONENT: u32 = 2;
/// Written bytes of each linear memory restored by copy instead of
/// `madvise` when an instance ends, in scan mode: no page faults and no TLB
/// shootdown for the next request in the slot. `PAGEMAP_SCAN` (Linux 6.7+)
/// finds the pages a request actually wrote, so this costs nothing to
/// requests that write less; 16 MiB covers a CPython heap's per-request
/// writes (about 1 MiB, in hundreds of runs: vendor/README.md), which at
/// 1 MiB were re-faulted on every request (448 faults, 4× the host CPU).
/// What idle slots keep is bounded by what the memory budget lets run at
/// once. Rust handler components start with 1 MiB of memory
/// (`.cargo/config.toml`), so a typical request never grows it: each growth
/// costs an `mprotect` to grow and another to shrink back on the slot's next
/// use, and on two cores those (and their TLB shootdowns) were the largest
/// share of the host's kernel time under load.
const MEMORY_KEEP_RESIDENT: usize = 16 << 20;
/// The same for tables: a CPython component's function table (tens of
/// KiB) is reset in place, not decommitted per request (at 16 KiB: 3 TLB
/// flushes per request and 11% less throughput once decommits are not
/// batched in scan mode).
const TABLE_KEEP_RESIDENT: usize = 256 << 10;
/// The same for the fibers' stacks.
const STACK_KEEP_RESIDENT: usize = 128 << 10;
/// Slots decommitted per `madvise` batch, amortising the system calls, in
/// full-reset mode where every slot has memory to decommit.
const DECOMMIT_BATCH: usize = 32;
/// The same in scan mode, where a slot has memory to decommit only when an
/// instance wrote more than [`MEMORY_KEEP_RESIDENT`] (a reused instance
/// retired with a grown heap): decommitted at once, so the slot, with its
/// pages, is free for the handler's next instance instead of waiting in a
/// queue while new slots fill (the reusing Python host's RSS grew from 407
/// to 703 MB over three rounds, each retirement leaving a slot behind).
const SCAN_DECOMMIT_BATCH: usize = 1;
const TABLES_PER_COMPONENT: u32 = 4;

/// Why a component was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    /// The file does not start with the wasm magic number.
    #[error("not a WebAssembly file")]
    NotWasm,
    /// A core wasm module, not a component (build for wasm32-wasip2).
    #[error("a core WebAssembly module, not a component; build for wasm32-wasip2")]
    NotComponent,
    /// Wasm, but truncated or corrupt (often: still being written).
    #[error("invalid or truncated component: {0:#}")]
    Invalid(wasmtime::Error),
    /// A component, but not of the `geofn:handler` world (missing export,
    /// unknown imports, or types that differ).
    #[error("does not implement the geofn:handler world: {0:#}")]
    WrongWorld(wasmtime::Error),
}

impl CompileError {
    /// A short, stable label for metrics and logs.
    pub fn reason(&self) -> &'static str {
        match self {
            CompileError::NotWasm => "not-wasm",
            CompileError::NotComponent => "not-a-component",
            CompileError::Invalid(_) => "invalid-component",
            CompileError::WrongWorld(_) => "wrong-world",
        }
    }
}

/// The engine, the linker with every import a handler may use, and the
/// epoch ticker that enforces deadlines.
pub struct Runtime {
    engine: Engine,
    linker: Linker<GuestState>,
    max_memory_bytes: usize,
    cache: Option<ArtifactCache>,
    ticker: EpochTicker,
    reset: MemoryReset,
}

/// How to build the engine.
#[derive(Debug, Clone, Default)]
pub struct RuntimeSettings {
    /// Ceiling for every handler's memory limit; sizes the pooling
    /// allocator's memory slots.
    pub max_memory_bytes: usize,
    /// Where compiled components are cached, keyed by their bytes and the
    /// engine's settings, so a restart or a swap back to a known version
    /// does not recompile. `None`: no cache.
    pub cache_dir: Option<PathBuf>,
    /// Tell `perf` the names of compiled guest functions (perf map file).
    pub perf_map: bool,
    /// How instance slots are wiped between requests.
    pub reset: MemoryReset,
}

impl Runtime {
    /// Builds the engine, the linker and the epoch ticker.
    pub fn new(settings: &RuntimeSettings) -> wasmtime::Result<Self> {
        let max_memory_bytes = settings.max_memory_bytes;
        let mut pooling = PoolingAllocationConfig::default();
        pooling
            .total_component_instances(MAX_CONCURRENT_INSTANCES)
            .total_core_instances(MAX_CONCURRENT_INSTANCES * CORE_INSTANCES_PER_COMPONENT)
            .total_memories(MAX_CONCURRENT_INSTANCES * MEMORIES_PER_COMPONENT)
            .total_tables(MAX_CONCURRENT_INSTANCES * TABLES_PER_COMPONENT)
            .total_stacks(MAX_CONCURRENT_INSTANCES)
            .max_memories_per_component(MEMORIES_PER_COMPONENT)
            .max_tables_per_component(TABLES_PER_COMPONENT)
            .max_memory_size(max_memory_bytes)
            .table_keep_resident(TABLE_KEEP_RESIDENT)
            .async_stack_keep_resident(STACK_KEEP_RESIDENT);
        match settings.reset {
            MemoryReset::Scan => pooling
                .linear_memory_keep_resident(MEMORY_KEEP_RESIDENT)
                .decommit_batch_size(SCAN_DECOMMIT_BATCH)
                .pagemap_scan(Enabled::Auto),
            MemoryReset::Full => pooling
                .linear_memory_keep_resident(FULL_RESET_KEEP_RESIDENT)
                .decommit_batch_size(DECOMMIT_BATCH)
                .pagemap_scan(Enabled::No),
        };
        let mut config = Config::new();
        config
            .wasm_component_model(true)
            .epoch_interruption(true)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pooling));
        if settings.perf_map {
            config.profiler(ProfilingStrategy::PerfMap);
        }
        let engine = Engine::new(&config)?;
        let cache = match &settings.cache_dir {
            Some(dir) => Some(ArtifactCache::open(dir, &engine)?),
            None => None,
        };

        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
        add_our_imports(&mut linker)?;

        let ticker = EpochTicker::spawn(engine.clone(), EPOCH_TICK);
        Ok(Self {
            engine,
            linker,
            max_memory_bytes,
            cache,
            ticker,
            reset: settings.reset,
        })
    }

    /// How instance slots are wiped between requests.
    pub fn reset(&self) -> MemoryReset {
        self.reset
    }

    /// Compilations served from the artifact cache, and those that missed it.
    pub fn cache_counts(&self) -> (usize, usize) {
        self.cache.as_ref().map_or((0, 0), ArtifactCache::counts)
    }

    /// The largest memory limit a handler may ask for.
    pub fn max_memory_bytes(&self) -> usize {
        self.max_memory_bytes
    }

    /// Compiles a component (`sha256`: the hex digest of `bytes`, which the
    /// caller has already computed; it keys the artifact cache) and checks
    /// it against the `handler` world. CPU-heavy (cranelift): call it off
    /// the async workers.
    pub fn prepare(
        &self,
        bytes: &[u8],
        sha256: &str,
    ) -> Result<HandlerPre<GuestState>, CompileError> {
        if !bytes.starts_with(WASM_MAGIC) {
            return Err(CompileError::NotWasm);
        }
        // Bytes 6-7 of the header are the layer: 0 for core modules, 1 for components.
        if bytes.get(6..8) != Some(&[1, 0]) {
            return Err(CompileError::NotComponent);
        }
        let component = match &self.cache {
            Some(cache) => cache.load_or_compile(&self.engine, bytes, sha256),
            None => Component::new(&self.engine, bytes),
        }
        .map_err(CompileError::Invalid)?;
        let instance_pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(CompileError::WrongWorld)?;
        HandlerPre::new(instance_pre).map_err(CompileError::WrongWorld)
    }

    /// The engine stores are made in.
    pub(crate) fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The ticker a call keeps awake while it may run wasm.
    pub(crate) fn ticker(&self) -> &EpochTicker {
        &self.ticker
    }
}

/// Our world's own interfaces and `wasi:config/store`, one by one: the
/// world's `add_to_linker` would add the WASI interfaces too, which
/// wasmtime's crates have just added.
fn add_our_imports(linker: &mut Linker<GuestState>) -> wasmtime::Result<()> {
    fn me(state: &mut GuestState) -> &mut GuestState {
        state
    }
    types::add_to_linker::<_, HasSelf<GuestState>>(linker, me)?;
    db::add_to_linker::<_, HasSelf<GuestState>>(linker, me)?;
    log::add_to_linker::<_, HasSelf<GuestState>>(linker, me)?;
    route::add_to_linker::<_, HasSelf<GuestState>>(linker, me)?;
    identity::add_to_linker::<_, HasSelf<GuestState>>(linker, me)?;
    trace::add_to_linker::<_, HasSelf<GuestState>>(linker, me)?;
    store::add_to_linker::<_, HasSelf<GuestState>>(linker, me)?;
    Ok(())
}
