//! A handler that misbehaves on purpose, for the host's tests.
//!
//! Routes (whatever prefix the test's manifest mounts it under):
//! - `.../echo`: 200 with the request as JSON (method, path, query, headers, body length).
//! - `.../version`: 200 with `PROBE_VERSION` as set at build time (hot-swap tests
//!   build it twice with different values).
//! - `.../trap`: panics, which traps the instance.
//! - `.../db-echo`: round-trips each db value kind through PostgreSQL
//!   (`?packed` reads the answer through `query-packed` instead of `query`).
//! - `.../db-json`: the same values, less bytea and geometry, rendered by
//!   `query-json` and answered as the host rendered them; `?geometry` adds
//!   a geometry column (which has no JSON form: a 500 with the error).
//! - `.../spin`: loops forever without calling the host (deadline test).
//! - `.../hog`: grows memory until the allocator fails (memory-cap test).
//! - `.../sandbox?port=N`: tries to read files, environment variables,
//!   arguments, the clock and a TCP connection to 127.0.0.1:N; reports
//!   what it got (all of it should be refused or empty).
//! - `.../dirty`: leaves session state on its connection (a setting and an
//!   advisory lock) to show the host cleans it before reuse.
//! - `.../session`: reports that state, as seen by the next request.
//! - `.../sleep?ms=N`: waits on PostgreSQL (`pg_sleep`) for N ms.
//! - `.../log?message=M`: writes M through the host's `log` import.
//! - `.../escape?host_role=R&marker=/tmp/x`: tries every way out of its
//!   database role it knows (become R, run programs, read and write server
//!   files, touch the host's tables, notify the fleet, create roles,
//!   databases, extensions, objects in `public`, ...); reports, for each,
//!   whether the database refused it. Files it tries to make start with
//!   `marker`.
//! - `.../exec?sql=S`: runs S through `db.execute`; 200 with the rows
//!   affected, or 500 with the error (a hostile handler's whole power).
//! - `.../select?sql=S[&json]`: runs S through `db.query-packed` (or
//!   `db.query-json`); 200 with the number of rows (of bytes), or 500 with
//!   the error.
//! - `.../route`: the route the host matched, as `route.current` gives it.
//! - `.../tx?do=commit|fail|trap|commit-after-error&note=N`: transactions
//!   over its own `notes` table (see `migrations/`): committed, failed by
//!   a statement, ended by a trap, or committed after a failed statement;
//!   `.../notes` lists what is stored.
//! - `.../spans?count=N[&hold][&long]`: spans of its own through `trace`:
//!   one with a child and a failed one, then N more (all held open with
//!   `hold`), and with `long` one whose name and attribute are 100 KB.
//! - `.../config?name=N[&leak=log|panic|span|sql]`: a variable's value
//!   (see `migrations/variables.toml`), after writing it where a careless
//!   handler would (see `variables`).
//! - `.../fetch?url=U`: one outbound GET through `wasi:http`, reported as
//!   status and body, or the error's kind (`denied`, `unreachable`,
//!   `too-large`, `timeout`, `bad-url`).
//! - `.../tick`: a schedule's POST: stores a note `tick:<schedule>` (the
//!   `geofn-schedule` header's value) in its `notes` table.
//! - `.../touch?mib=N&hold_ms=M`: writes N MiB of fresh memory, then holds
//!   it for M ms (memory-budget test).
//! - `.../scatter?seed=S&pages=N&hold_ms=M[&scan=1]` and `.../scan?seed=S`:
//!   a marker written across N scattered pages, and a search of the whole
//!   linear memory for it (see `residue`).
//! - `.../counter`: how many requests this instance has served, this one
//!   included (1 unless the handler reuses instances).
//! - `.../whoami`: the identity the host verified, the `authorization`
//!   header it was handed (none, for a bearer token), and the claims its
//!   SQL sees as `request.jwt.claims`.
//!
//! Not part of the shipped handlers: `make handlers` builds it beside them
//! for the test suite only.

use geofn_guest::http::{self, Problem};
use geofn_guest::{Guest, Request, Response};
use serde_json::json;

mod args;
mod caller;
mod compute;
mod escape;
mod outbound;
mod residue;
mod sandbox;
mod session;
mod sql;
mod transaction;
mod values;
mod variables;

/// Identifies this build in hot-swap tests.
const VERSION: &str = match option_env!("PROBE_VERSION") {
    Some(v) => v,
    None => "dev",
};

/// Requests this instance has served.
static SERVED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

struct Probe;

impl Guest for Probe {
    fn handle(request: Request) -> Response {
        match request.path.rsplit('/').next().unwrap_or_default() {
            "echo" => http::json(
                200,
                &json!({
                    "method": request.method,
                    "path": request.path,
                    "query": request.query,
                    "headers": request.headers,
                    "body_bytes": request.body.len(),
                }),
            ),
            "version" => http::json(200, &json!({ "version": VERSION })),
            "trap" => panic!("probe: trapping on request"),
            "db-echo" => values::db_echo(request.query == "packed"),
            "db-json" => values::db_json(request.query == "geometry"),
            "spin" => compute::spin(),
            "hog" => compute::hog(),
            "sandbox" => sandbox::sandbox(&request),
            "dirty" => session::dirty(),
            "session" => session::session(),
            "sleep" => session::sleep(&request),
            "escape" => escape::escape(&request),
            "route" => {
                let matched = geofn_guest::route::current();
                http::json(
                    200,
                    &json!({ "template": matched.template, "params": matched.params }),
                )
            }
            "whoami" => caller::whoami(&request),
            "config" => variables::config(&request),
            "fetch" => outbound::fetch(&request),
            "tick" => transaction::tick(&request),
            "tx" => transaction::transaction(&request),
            "notes" => transaction::notes(),
            "exec" => sql::exec(&request),
            "select" => sql::select(&request),
            "touch" => compute::touch(&request),
            "scatter" => residue::scatter(
                args::number(&request, "seed"),
                args::number(&request, "pages") as usize,
                args::number(&request, "hold_ms"),
                args::param(&request, "scan").is_some(),
            ),
            "scan" => residue::scan(args::number(&request, "seed")),
            "counter" => {
                let served = SERVED.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                http::json(200, &json!({ "served": served, "version": VERSION }))
            }
            "spans" => {
                // Its own spans: a parent, a child with attributes, a failed
                // one, then `count` more (past the host's bound).
                let count = args::number(&request, "count");
                let parent = geofn_guest::trace::span("probe work");
                parent.set_attribute("probe.phase", "outer");
                geofn_guest::trace::in_span("probe step", |step| {
                    step.set_attribute("probe.rows", "42");
                });
                geofn_guest::trace::span("probe failure").set_error("it went wrong on purpose");
                // `hold`: keep them all open (a handler hoarding handles);
                // `long`: one more with a 100 KB name and attribute.
                let hold = args::param(&request, "hold").is_some();
                let mut held = Vec::new();
                for n in 0..count {
                    let extra = geofn_guest::trace::span(&format!("probe extra {n}"));
                    if hold {
                        held.push(extra);
                    }
                }
                if args::param(&request, "long").is_some() {
                    let long = "x".repeat(100_000);
                    geofn_guest::trace::span(&long).set_attribute(&long, &long);
                }
                drop(held);
                drop(parent);
                http::json(200, &json!({ "spans": count + 3 }))
            }
            "log" => {
                let message = args::param(&request, "message").unwrap_or_else(|| "hello".into());
                geofn_guest::log::log(geofn_guest::log::Level::Info, &message);
                http::json(200, &json!({ "logged": message }))
            }
            _ => Problem::not_found("probe: unknown action").into_response(),
        }
    }
}

geofn_guest::export_handler!(Probe);
geofn_guest::handler_manifest!(include_str!(concat!(
    env!("OUT_DIR"),
    "/geofn-handler.toml"
)));
