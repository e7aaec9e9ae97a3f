//! A fresh instance of the empty handler component and one call of its
//! `handle`: the host's per-request floor inside wasmtime (pooling
//! allocator, pre-linked component, new store, WASI context with nothing
//! granted). Target: at most 10 µs median.
//!
//! Run with: `make handlers && cargo bench -p geofn --bench instantiate`

#[path = "empty/mod.rs"]
mod empty;

use criterion::{Criterion, criterion_group, criterion_main};

fn instantiate_and_call(c: &mut Criterion) {
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let handler = tokio.block_on(async { empty::EmptyHandler::new() });
    c.bench_function("instantiate + call, empty handler", |b| {
        b.to_async(&tokio).iter(|| handler.call_once());
    });
}

criterion_group!(benches, instantiate_and_call);
criterion_main!(benches);
