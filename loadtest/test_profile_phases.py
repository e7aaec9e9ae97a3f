"""The phase each kind of sample goes to, on stacks shaped like perf's
(outermost frame first), so the accounting in REPORT.md cannot drift
silently when a rule changes. Run by `make lint`:

    python3 -m unittest discover -s loadtest -p 'test_*.py'
"""

import unittest

from profile_phases import phase

SERVE = ["tokio::runtime::task::raw::poll",
         "geofn_http::server::spawn_connection::{{closure}}",
         "<axum::middleware::from_fn::FromFn<F,S,I,(T1,T2)> as tower_service::Service<Req>>::call::{{closure}}"]
DISPATCH = SERVE + ["geofn_http::dispatch::dispatch::{{closure}}",
                    "geofn_http::dispatch::run_handler::{{closure}}"]
CALL = DISPATCH + ["geofn_runtime::call::<impl geofn_runtime::engine::Runtime>::call_keeping::{{closure}}",
                   "<tracing::instrument::Instrumented<T> as core::future::future::Future>::poll"]
IN_GUEST = CALL + ["wasmtime::runtime::fiber::resume_fiber",
                   "wasm[0]::array_to_wasm_trampoline[144]",
                   "points::list::h305696eac085622e"]
IN_DB_IMPORT = IN_GUEST + ["component-trampolines[13]-wasm-call-component-lower-import[7]",
                           "wasmtime::runtime::component::func::host::HostFn::cabi_entrypoint",
                           "geofn_runtime::db_imports::<impl geofn_runtime::guest::GuestState>::json::{{closure}}",
                           "geofn_db::json_rows::render"]


class Phases(unittest.TestCase):
    def test_an_instrumented_futures_own_samples_count_for_the_future_it_wraps(self):
        # Its poll's self time is the wrapped async block's code, inlined.
        self.assertEqual(phase(CALL), "the host's own crates")
        self.assertEqual(phase(CALL + ["__memmove_avx512_unaligned_erms"]), "the host's own crates")
        self.assertEqual(phase(SERVE + ["<tracing::instrument::Instrumented<T> as core::future::future::Future>::poll"]),
                         "routing, admission, middleware (axum, tower, geofn_http)")

    def test_the_subscribers_own_work_is_still_tracing(self):
        self.assertEqual(phase(CALL + ["tracing_core::dispatcher::get_default",
                                       "<tracing_subscriber::registry::sharded::Registry as tracing_core::subscriber::Subscriber>::enter"]),
                         "tracing and logs")
        self.assertEqual(phase(SERVE + ["tracing_core::span::Attributes::record", "mi_free"]),
                         "tracing and logs")

    def test_guest_code_and_the_imports_it_calls(self):
        self.assertEqual(phase(IN_GUEST), "guest code")
        self.assertEqual(phase(IN_DB_IMPORT), "db import (pool, statement, rows)")
        self.assertEqual(phase(IN_GUEST + ["component-trampolines[2]-wasm-call-component-lower-import[1]",
                                           "wasmtime::runtime::component::func::host::HostFn::cabi_entrypoint",
                                           "wasmtime_wasi::p2::host::clocks::now"]),
                         "other imports")

    def test_the_layers_count_the_same_from_when_they_were_modules_of_one_crate(self):
        # Before the host was split into crates (7b76ac1, the report's "before").
        old_call = ["tokio::runtime::task::raw::poll", "geofn::server::serve_connection::{{closure}}",
                    "geofn::http::dispatch::dispatch::{{closure}}",
                    "geofn::runtime::call::<impl geofn::runtime::engine::Runtime>::call::{{closure}}",
                    "wasmtime::runtime::fiber::resume_fiber", "wasm[0]::array_to_wasm_trampoline[144]",
                    "points::list::h305696eac085622e",
                    "component-trampolines[13]-wasm-call-component-lower-import[7]",
                    "wasmtime::runtime::component::func::host::HostFn::cabi_entrypoint"]
        self.assertEqual(phase(old_call + ["geofn::db::decode::pack_row"]),
                         "db import (pool, statement, rows)")
        self.assertEqual(phase(old_call + ["geofn_contract::packed::Cell::write"]),
                         "db import (pool, statement, rows)")
        self.assertEqual(phase(old_call[:3]), "routing, admission, middleware (axum, tower, geofn_http)")
        self.assertEqual(phase(old_call[:2]), "routing, admission, middleware (axum, tower, geofn_http)")

    def test_the_kernel_is_split_by_what_it_was_asked(self):
        self.assertEqual(phase(DISPATCH + ["__GI___writev", "entry_SYSCALL_64", "do_writev", "tcp_sendmsg"]),
                         "kernel: network send")
        self.assertEqual(phase(SERVE + ["epoll_wait", "entry_SYSCALL_64", "do_epoll_wait", "schedule"]),
                         "kernel: waiting and waking (futex, epoll, sleep)")


if __name__ == "__main__":
    unittest.main()
