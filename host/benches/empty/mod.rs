//! The empty handler, ready to instantiate the way the host does: shared
//! by the criterion benchmark and the floor accounting (`examples/floor.rs`)
//! so both measure the same thing.

use std::str::FromStr;
use std::sync::Arc;

use geofn_db::handler_pools::{HandlerConnections, HandlerDb};
use geofn_runtime::bindings::{HandlerPre, Matched, Request};
use geofn_runtime::limits::DEFAULT_MAX_MEMORY_BYTES;
use geofn_runtime::{CallInputs, GuestState, Limits, Runtime, RuntimeSettings};

/// The runtime, the pre-linked component and what a call needs.
pub struct EmptyHandler {
    pub runtime: Arc<Runtime>,
    pub pre: HandlerPre<GuestState>,
    pub pool: HandlerConnections,
    pub limits: Limits,
    pub name: Arc<str>,
}

impl EmptyHandler {
    /// Must run inside a tokio runtime (the idle pool spawns nothing, but
    /// deadpool wants one).
    pub fn new() -> Self {
        let runtime = Arc::new(
            Runtime::new(&RuntimeSettings {
                max_memory_bytes: DEFAULT_MAX_MEMORY_BYTES,
                cache_dir: None,
                perf_map: false,
                // What a host on this machine would run with.
                reset: geofn_runtime::reset::ResetSetting::Auto.choose(),
            })
            .unwrap(),
        );
        let bytes = component();
        let sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
        let pre = runtime.prepare(&bytes, &sha256).unwrap();
        Self {
            runtime,
            pre,
            pool: HandlerConnections::primary_only(idle_pool()),
            limits: Limits::default(),
            name: Arc::from("empty"),
        }
    }

    /// One fresh instance, one call of `handle`, the instance dropped.
    pub async fn call_once(&self) {
        let answer = self
            .runtime
            .call(
                self.name.clone(),
                &self.pre,
                CallInputs {
                    limits: &self.limits,
                    db: &self.pool,
                    reads: Default::default(),
                    route: Matched {
                        template: "/empty".into(),
                        params: Vec::new(),
                    },
                    identity: None,
                    version: "empty",
                    variables: Default::default(),
                    outbound: None,
                },
                request(),
            )
            .await
            .unwrap();
        assert_eq!(answer.response.status, 200);
    }
}

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

fn request() -> Request {
    Request {
        method: "GET".into(),
        path: "/empty".into(),
        query: String::new(),
        headers: vec![("host".into(), "bench".into())],
        body: Vec::new(),
    }
}
