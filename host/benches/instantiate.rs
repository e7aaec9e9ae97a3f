//! A fresh instance of the empty handler component and one call of its
//! `handle`: the host's per-request floor inside wasmtime (pooling
//! allocator, pre-linked component, new store, WASI context with nothing
//! granted). Target: at most 10 µs median.
//!
//! Run with: `make handlers && cargo bench -p geofn --bench instantiate`

use std::str::FromStr;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use geofn::bindings::{Matched, Request};
use geofn::db::handler_pools::{HandlerConnections, HandlerDb};
use geofn::runtime::limits::DEFAULT_MAX_MEMORY_BYTES;
use geofn::runtime::{CallInputs, Limits, Runtime, RuntimeSettings};

fn component() -> Vec<u8> {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-handlers/empty.wasm");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(|dir| std::path::PathBuf::from(dir).join("test-handlers/empty.wasm"));
    std::fs::read(target.filter(|p| p.exists()).unwrap_or(path))
        .expect("empty.wasm missing: run `make handlers`")
}

/// A pool that never connects: the empty handler makes no db call.
fn idle_pool() -> Arc<HandlerDb> {
    let config = tokio_postgres::Config::from_str("host=127.0.0.1 port=1 user=nobody").unwrap();
    HandlerDb::unmanaged("empty", config, 1)
}

fn route() -> Matched {
    Matched {
        template: "/empty".into(),
        params: Vec::new(),
    }
}

fn request() -> Request {
    Request {
        method: "GET".into(),
        path: "/empty".into(),
        query: String::new(),
        headers: vec![("host".into(), "bench".into())],
        body: Vec::new(),
    }
}

fn instantiate_and_call(c: &mut Criterion) {
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let runtime = Arc::new(
        Runtime::new(&RuntimeSettings {
            max_memory_bytes: DEFAULT_MAX_MEMORY_BYTES,
            cache_dir: None,
            perf_map: false,
            // What a host on this machine would run with.
            reset: geofn::runtime::reset::ResetSetting::Auto.choose(),
        })
        .unwrap(),
    );
    let pre = runtime.prepare(&component()).unwrap();
    let pool = HandlerConnections::primary_only(tokio.block_on(async { idle_pool() }));
    let limits = Limits::default();
    let name: Arc<str> = Arc::from("empty");
    c.bench_function("instantiate + call, empty handler", |b| {
        b.to_async(&tokio).iter(|| async {
            let answer = runtime
                .call(
                    name.clone(),
                    &pre,
                    CallInputs {
                        limits: &limits,
                        db: &pool,
                        reads: Default::default(),
                        route: route(),
                    },
                    request(),
                )
                .await
                .unwrap();
            assert_eq!(answer.response.status, 200);
        });
    });
}

criterion_group!(benches, instantiate_and_call);
criterion_main!(benches);
