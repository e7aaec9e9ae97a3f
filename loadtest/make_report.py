#!/usr/bin/env python3
"""Writes REPORT.md from the files loadtest/report.sh left in report/.

Usage: make_report.py REPORT_DIR CLIENTS HOLD [ROUNDS]
"""

import csv
import functools
import os
import pathlib
import subprocess
import sys

import report_inputs
import report_phases
import report_reach
import report_swaps
from report_floor import floor_accounting
from report_inputs import cpu, held

out = pathlib.Path(sys.argv[1])
clients, hold = sys.argv[2], sys.argv[3]
rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 1
summary = functools.partial(report_inputs.summary, out, hold)
steps = functools.partial(report_inputs.steps, out)
pgbench = functools.partial(report_inputs.pgbench, out)


g_get, n_get = summary("geofn-get"), summary("native-get")
g_post, n_post = summary("geofn-post"), summary("native-post")
has_reuse = (out / "reuse-get-summary.csv").exists()
r_get, r_post = (summary("reuse-get"), summary("reuse-post")) if has_reuse else (None, None)
empty = summary("geofn-empty")
livez = summary("geofn-livez") if (out / "geofn-livez-summary.csv").exists() else None
cpu_us = report_inputs.cpu_per_request(out, hold)
pg_select, pg_insert = pgbench("select"), pgbench("insert")
instantiate = report_inputs.criterion(out)
users = steps("users")
native_users = steps("native-users") if (out / "native-users-steps.csv").exists() else None
rates = steps("rates")
top = users[-1]


def room_for_the_targets():
    """How much more CPU per request than the native server each throughput
    target allows the host, next to what a handler that does nothing costs."""
    if livez is None or not {"geofn-empty", "geofn-livez"} <= cpu_us.keys():
        return
    cores = os.cpu_count() or 1
    instance = cpu_us["geofn-empty"][0] - cpu_us["geofn-livez"][0]
    w("### How much room the targets leave")
    w("")
    w(f"The side-by-side runs keep the {cores} cores busy, so a request costs the machine "
      f"{cores} s divided by the request rate (server, PostgreSQL, load generator and kernel "
      "together). A target of a fraction *f* of a reference rate allows geofn that cost divided "
      "by *f*: the excess over the native server's cost is what "
      "the wasm layer may add to the native server's work, if PostgreSQL and the load generator "
      "cost geofn's requests no more than the native server's (the best case). A handler that "
      "does nothing already costs the host "
      f"{instance:.0f} µs more than a host route that never enters wasm (`GET /empty` "
      f"{cpu_us['geofn-empty'][0]:.0f} µs against `GET /livez` {cpu_us['geofn-livez'][0]:.0f} µs "
      "of host CPU): instantiation, the call and the teardown DESIGN.md asks of every request, "
      "and the dispatch to it.")
    w("")
    w("| target | reference | machine µs per request there | allowed over native | "
      "of which the empty handler | left for the call, copies and guest code | geofn over native today |")
    w("|---|---|---|---|---|---|---|")
    rows = [("GET ≥ 0.85× native", n_get["rps"], 0.85, n_get["rps"], g_get["rps"]),
            ("POST ≥ 0.85× native", n_post["rps"], 0.85, n_post["rps"], g_post["rps"]),
            ("POST ≥ 0.7× pgbench INSERT", pg_insert[0], 0.7, n_post["rps"], g_post["rps"])]
    for name, reference, fraction, native_rps, geofn_rps in rows:
        per_native = cores * 1e6 / native_rps
        allowed = cores * 1e6 / (fraction * reference) - per_native
        today = cores * 1e6 / geofn_rps - per_native
        left = allowed - instance
        left = f"{left:.0f} µs" if left >= 0 else f"none ({left:.0f} µs)"
        w(f"| {name} | {reference:.0f}/s | {cores * 1e6 / (fraction * reference):.0f} µs | "
          f"{allowed:.0f} µs | {instance:.0f} µs | {left} | {today:.0f} µs |")
    w("")


def paired_ratio(route, key, host="geofn"):
    """`host` over native for `key`, the median of the rounds' own ratios."""
    if rounds < 2:
        return summary(f"{host}-{route}")[key] / summary(f"native-{route}")[key]
    ratios = sorted(summary(f"{host}-{route}-r{r}")[key] / summary(f"native-{route}-r{r}")[key]
                    for r in range(1, rounds + 1))
    return ratios[len(ratios) // 2] if len(ratios) % 2 else \
        (ratios[len(ratios) // 2 - 1] + ratios[len(ratios) // 2]) / 2


def verdict(ok):
    return "met" if ok else "**not met**"


lines = []
w = lines.append
w("# geofn load report")
w("")
w(f"Produced by `loadtest/report.sh` on {cpu()}, {subprocess.getoutput('nproc')} cores, "
  "with PostgreSQL, the host under test, the baseline and the load generator all on this machine "
  "(they share the two cores: every figure below is a lower bound of what the host alone could do).")
w("")
w("## Targets")
w("")
if rounds > 1:
    w(f"Ratios to the native server are the median of the {rounds} rounds' own ratios (host and "
      "baseline of one round run a minute apart; the machine drifts more than that between "
      "rounds); the rates beside them are each side's median round.")
    w("")
w("| target | measured | |")
w("|---|---|---|")
if livez is not None and {"geofn-empty", "geofn-livez"} <= cpu_us.keys():
    over = cpu_us["geofn-empty"][0] - cpu_us["geofn-livez"][0]
    w(f"| `GET /empty` host CPU over `GET /livez` ≤ 15 µs per request | {cpu_us['geofn-empty'][0]:.0f} − "
      f"{cpu_us['geofn-livez'][0]:.0f} = {over:.0f} µs | {verdict(over <= 15)} |")
for route, label in [("get", "`GET /points?limit=100`"), ("post", "`POST /point`")]:
    g, n = summary(f"geofn-{route}"), summary(f"native-{route}")
    ratio = paired_ratio(route, "rps")
    w(f"| fresh instances ≥ 0.85× native req/s, {label} | {g['rps']:.0f} vs {n['rps']:.0f} req/s; {ratio:.2f}× | {verdict(ratio >= 0.85)} |")
    p99 = paired_ratio(route, "p99")
    w(f"| fresh instances, p99 ≤ 1.5× native, {label} | {g['p99']:.2f} vs {n['p99']:.2f} ms; {p99:.2f}× | {verdict(p99 <= 1.5)} |")
if has_reuse:
    for route, label in [("get", "`GET /points?limit=100`"), ("post", "`POST /point`")]:
        r, n = summary(f"reuse-{route}"), summary(f"native-{route}")
        ratio = paired_ratio(route, "rps", "reuse")
        w(f"| reuse on ≥ 0.95× native req/s, {label} | {r['rps']:.0f} vs {n['rps']:.0f} req/s; {ratio:.2f}× | {verdict(ratio >= 0.95)} |")
        p99 = paired_ratio(route, "p99", "reuse")
        w(f"| reuse on, p99 ≤ 1.2× native, {label} | {r['p99']:.2f} vs {n['p99']:.2f} ms; {p99:.2f}× | {verdict(p99 <= 1.2)} |")
if native_users is not None:
    ours, theirs = held(users), held(native_users)
    ratio = ours / theirs if theirs else float("nan")
    w(f"| the guide's closed model: most users held at p95 < 100 ms, no failure, ≥ 0.9× native's | "
      f"{ours} vs {theirs} users; {ratio:.2f}× | {verdict(theirs and ratio >= 0.9)} |")
for row in report_swaps.target_rows(out, verdict):
    w(row)
ratio = g_post["rps"] / pg_insert[0]
w(f"| `POST /point` ≥ 0.7× pgbench TPS of the same INSERT | {g_post['rps']:.0f} vs {pg_insert[0]:.0f} = {ratio:.2f}× | {verdict(ratio >= 0.7)} |")
if instantiate is not None:
    w(f"| instantiate + call of an empty handler ≤ 10 µs median | {instantiate:.2f} µs | {verdict(instantiate <= 10)} |")
p95 = float(top["p95_ms"])
failed = float(top["failures_per_s"])
w(f"| the guide's scenario at {top['users']} users: p95 < 100 ms, no failures | p95 {p95:.1f} ms, {failed:.2f} failures/s, {float(top['throughput_per_s']):.0f} req/s | {verdict(p95 < 100 and failed == 0)} |")
w("")
w(f"## Side by side ({clients} connections, no think time, {hold} each)")
w("")
if rounds > 1:
    w(f"Host and baseline take turns for {rounds} rounds (this machine's speed drifts over "
      "minutes); each line is its median round, and the rounds follow the table.")
    w("")
w("CPU columns: user + system time of the server process and of all PostgreSQL processes over "
  "the run (`/proc/<pid>/stat`), per answered request.")
w("")
w("| run | req/s | failures | p50 ms | p95 ms | p99 ms | server CPU µs/req | PostgreSQL CPU µs/req |")
w("|---|---|---|---|---|---|---|---|")
for name, label, s in [("geofn-get", "geofn `GET /points?limit=100`", g_get),
                       ("reuse-get", "geofn, reuse on, `GET /points?limit=100`", r_get),
                       ("native-get", "native `GET /points?limit=100`", n_get),
                       ("geofn-post", "geofn `POST /point`", g_post),
                       ("reuse-post", "geofn, reuse on, `POST /point`", r_post),
                       ("native-post", "native `POST /point`", n_post),
                       ("geofn-empty", "geofn `GET /empty` (host floor)", empty),
                       ("geofn-livez", "geofn `GET /livez` (host route, no wasm)", livez)]:
    if s is None:
        continue
    # PostgreSQL's figure is a difference of its processes' CPU times; a
    # backend that exits during a run takes its ticks with it (below 0: none).
    server, postgres = (f"{max(v, 0):.0f}" for v in cpu_us.get(name, (float("nan"),) * 2))
    w(f"| {label} | {s['rps']:.0f} | {s['failures']} | {s['p50']:.2f} | {s['p95']:.2f} | {s['p99']:.2f} | {server} | {postgres} |")
w(f"| pgbench `SELECT ... LIMIT 101` | {pg_select[0]:.0f} tps | | avg {pg_select[1]:.2f} | | | | |")
w(f"| pgbench `INSERT ... RETURNING` | {pg_insert[0]:.0f} tps | | avg {pg_insert[1]:.2f} | | | | |")
w("")
if rounds > 1:
    w("| round | request | fresh | reuse on | native | fresh / native | reuse / native |")
    w("|---|---|---|---|---|---|---|")
    for r in range(1, rounds + 1):
        for route in ("get", "post"):
            f, n = summary(f"geofn-{route}-r{r}"), summary(f"native-{route}-r{r}")
            u = summary(f"reuse-{route}-r{r}") if has_reuse else None
            reuse_cells = (f"{u['rps']:.0f}", f"{u['rps'] / n['rps']:.2f}×") if u else ("", "")
            w(f"| {r} | {route.upper()} | {f['rps']:.0f} | {reuse_cells[0]} | {n['rps']:.0f} "
              f"| {f['rps'] / n['rps']:.2f}× | {reuse_cells[1]} |")
    w("")
w("## The guide's scenario, climbing to 10,000 users")
w("")
w("Closed model like Locust's: each user has its own connection, sends, waits for the answer, "
  "thinks 1-2 s, `GET /points` three times as often as `POST /point`. Users arrive 500 per second "
  "(the guide's 3 per second would take 55 minutes to reach 10,000).")
w("")
w("The native server goes through the same ramp right after, against the same database.")
w("")
w("| users | geofn req/s | failures/s | p50 ms | p95 ms | p99 ms | native req/s | failures/s | p95 ms |")
w("|---|---|---|---|---|---|---|---|---|")
for i, row in enumerate(users):
    n = native_users[i] if native_users and i < len(native_users) else None
    native_cells = (f"{float(n['throughput_per_s']):.0f} | {n['failures_per_s']} | {n['p95_ms']}"
                    if n else " | | ")
    w(f"| {row['users']} | {float(row['throughput_per_s']):.0f} | {row['failures_per_s']} | {row['p50_ms']} | {row['p95_ms']} | {row['p99_ms']} | {native_cells} |")
w("")
if native_users is not None:
    w(f"Held with p95 < 100 ms and no failure: geofn {held(users)} users, native {held(native_users)}.")
    w("")
w("![users against throughput and latency](report/users-curve.svg)")
w("")
w("![the run over time](report/users-timeline.svg)")
w("")
w("## Open model: fixed arrival rates")
w("")
w("Requests arrive on schedule whatever the answers do; latency counts from when each was due, "
  "so queueing shows instead of hiding.")
w("")
w("| offered req/s | achieved req/s | failures/s | p50 ms | p95 ms | p99 ms |")
w("|---|---|---|---|---|---|")
for row in rates:
    w(f"| {row['offered req/s']} | {float(row['throughput_per_s']):.0f} | {row['failures_per_s']} | {row['p50_ms']} | {row['p95_ms']} | {row['p99_ms']} |")
w("")
w("![offered rate against throughput and latency](report/rates-curve.svg)")
w("")
report_swaps.section(out, w)
locust = out / "locust-stats.csv"
if locust.exists():
    w("## Locust, the guide's run")
    w("")
    w("`locust -f loadtest/locustfile.py --headless -u 300 -r 3 -t 150s`, the guide's own tool and scenario:")
    w("")
    w("| request | requests | failures | median ms | p95 ms | p99 ms | req/s |")
    w("|---|---|---|---|---|---|---|")
    for row in csv.DictReader(open(locust)):
        name = row['Name'] if row['Name'].startswith(row['Type']) else f"{row['Type']} {row['Name']}".strip()
        w(f"| {name} | {row['Request Count']} | {row['Failure Count']} | {row['Median Response Time']} | {row['95%']} | {row['99%']} | {float(row['Requests/s']):.1f} |")
    w("")
w("## What limits it")
w("")
if "geofn-get" in cpu_us and "native-get" in cpu_us:
    (g_cpu, g_pg), (n_cpu, n_pg) = cpu_us["geofn-get"], cpu_us["native-get"]
    cost = (f"it spends {g_cpu / n_cpu:.1f} times the native server's CPU per `GET` ({g_cpu:.0f} µs "
            f"against {n_cpu:.0f} µs, table above; PostgreSQL spent {g_pg:.0f} and {n_pg:.0f} µs "
            "per request behind them)")
else:
    cost = "it spends more CPU per request than the native server"
w(f"On these two shared cores the host process, not PostgreSQL, is the limit: {cost}. Where the "
  "host's CPU per request goes, from `loadtest/profile.sh` (perf with call graphs and guest "
  "function names from `--perf-map`, 64 connections at saturation, the host's CPU per request "
  "from `/proc` over the same run; each sample goes to one phase, `loadtest/profile_phases.py` "
  "says how):")
w("")
if not report_phases.table(out, w):
    w("(no `by-phase-*.txt` in the report folder: run `loadtest/profile.sh` and copy them.)")
    w("")
report_phases.before_and_after(out, w)
w("For the native server, *other host work* is its own code, tokio-postgres and serde_json (its "
  "frames name none of the layers above); for geofn the `db` import includes rendering the rows "
  "as JSON in the host (`db.query-json`), and *other imports* are the guest's remaining calls "
  "into the host (WASI and the rest), not broken down further here.")
w("")
w("The kernel's share (loopback TCP to the client and to PostgreSQL, waking threads) is paid by "
  "the native server as well; the guest's own code, the `db` import, the calls into wasm and the "
  "instance's creation and teardown are the price of the design; routing, middleware, HTTP and "
  "tracing are the host's layers around it, the same crates the native server uses but more of "
  "them per request.")
w("")
w("Removed so far: one `realloc` call into the guest per string, byte list and row, and a second "
  "decoding of every cell (`db.query-packed` hands a page of rows over as one buffer the guest "
  "reads in place; geometries pass through as PostGIS's EWKB instead of being parsed and "
  "re-encoded), which took GET from 0.39× of the native server (the first report) to the ratio "
  "above; handlers at `opt-level = 3` instead of `\"s\"` (+11-23% req/s on GET in two before/after pairs); a pooled connection held "
  "through the guest's rendering and teardown (PostgreSQL's backend then slept between every "
  "query: 165 µs of its CPU per GET against 120 behind the native server), now handed back as "
  "soon as each call's rows are read; `mprotect` twice per request (guest memory grew "
  "during the request and was shrunk back on the slot's next use; handlers now start with 1 MiB "
  "and `PAGEMAP_SCAN` resets only the pages written), page faults and `madvise` on every "
  "instantiation (1 MiB kept resident, 64 KiB guest stacks), part of the allocator's cost "
  "(mimalloc), serde_json escaping every key of a listing at run time, the guest decoding rows "
  "and rendering JSON (the points handler's listing and its `INSERT ... RETURNING` now come "
  "back rendered by the host through `db.query-json`), and the `String`s "
  "allocated per request for metric labels (now the route's and handler's shared names; the "
  "gain is below these runs' noise), and three response layers (the cache rules, draining, "
  "the request's metrics) that wrapped every poll of a request in more futures, now one "
  "(same-time A/B, 4 rounds each: host CPU per GET 130-131 -> 124-126 µs, per POST 111-112 -> "
  "96-103 µs), and tower-http's `TraceLayer`, which entered the request's span at every poll "
  "of the response and of its body, each wrapped in a future of its own: the span is now made "
  "and entered in that one layer (same-time A/B on another machine, 4 rounds each way, "
  "either build first: host CPU per GET 172-182 -> 162-171 µs and 188-191 -> 182-186 µs, "
  "ahead in all 8 rounds; per POST ahead in 5 of 8, means 164 -> 154 and 153 -> 152 µs). "
  "Instantiate + call of "
  "the empty handler went from 29.6 µs to the figure above. What is left is the price of the "
  "design itself: a fresh sandboxed instance per request (what `GET /empty` costs over "
  "`GET /livez`, below), the "
  "request's work done in wasm behind a copy at each boundary, and the HTTP and tracing layers "
  "around it.")
w("")
floor_accounting(out, w)
room_for_the_targets()
clean = [r for r in users if float(r["failures_per_s"]) == 0]
first_503 = next((r for r in users if float(r["failures_per_s"]) > 0), None)
text = ("The 10,000-user scenario is bounded by the same per-request CPU. "
        + (f"Up to {clean[-1]['users']} users every request is answered (p95 "
           f"{float(clean[-1]['p95_ms']):.1f} ms). " if clean else ""))
if first_503 is not None:
    worst_p99 = max(float(r["p99_ms"]) for r in users)
    text += (f"From {first_503['users']} users the offered load (each user sends about every "
             "1.5 s) passes what the host serves on two cores beside PostgreSQL and the load "
             "generator; admission control queues a request only while it can still be answered "
             "within the wait limit (`--queue-wait-ms`, 100 ms by default, plus the measured "
             "service time) and answers the rest at once with 503 and "
             f"`Retry-After`: at {top['users']} users "
             f"{float(top['throughput_per_s']):.0f} req/s are served and "
             f"{float(top['failures_per_s']):.0f} req/s refused, and the latency of every answer "
             f"stays bounded (p99 at most {worst_p99:.0f} ms).")
w(text)
w("")
if has_reuse:
    report_reach.section(out, w, os.cpu_count() or 1,
                         {"get": n_get["rps"], "post": n_post["rps"]},
                         {"get": paired_ratio("get", "rps", "reuse"),
                          "post": paired_ratio("post", "rps", "reuse")},
                         pg_insert[0], users, native_users)
python_runs = out / "python.csv"
if python_runs.exists():
    runs = list(csv.DictReader(open(python_runs)))
    span = lambda key, fmt="{:.0f}": "–".join(  # noqa: E731
        fmt.format(v) for v in sorted({min(float(r[key]) for r in runs), max(float(r[key]) for r in runs)}))
    w("## Python handlers (`loadtest/python.sh`, a run of its own)")
    w("")
    w("The points API in Python (`handlers/python/points`) with a fresh instance per request, the "
      "same with reuse on, and the guide's stack (Flask + psycopg2 under gunicorn, 4 workers × 4 "
      f"threads, `loadtest/flask/app.py`); `GET /points?limit=100`, 32 connections, {len(runs)} "
      "rounds taking turns; the host's resident memory sampled every 0.2 s during each run. The "
      "two Python hosts run at most 8 of the handler's requests at once (`max_concurrency = 8`; "
      "gunicorn runs 16 threads); the third runs fresh instances without that cap.")
    w("")
    w("| run | req/s | p99 ms | host CPU µs/req | host RSS MB |")
    w("|---|---|---|---|---|")
    w(f"| Python handler, fresh instances | {span('fresh_rps')} | {span('fresh_p99_ms')} | "
      f"{span('fresh_host_us')} | {span('fresh_rss_mb')} |")
    w(f"| Python handler, reuse on | {span('reuse_rps')} | {span('reuse_p99_ms')} | "
      f"{span('reuse_host_us')} | {span('reuse_rss_mb')} |")
    if "uncapped_rps" in runs[0]:
        w(f"| Python handler, fresh, no `max_concurrency` | {span('uncapped_rps')} | "
          f"{span('uncapped_p99_ms')} | {span('uncapped_host_us')} | {span('uncapped_rss_mb')} |")
    w(f"| Flask + gunicorn 4×4 | {span('flask_rps')} | {span('flask_p99_ms')} | | |")
    w("")
    compiled = (f" ({span('compiled_rss_mb')} MB resident after it: the compiler's memory, which "
                "the measured hosts, started from the cache, never hold)"
                if "compiled_rss_mb" in runs[0] else "")
    w(f"First start, compiling the 19 MB component: {span('first_start_ms')} ms{compiled}; a "
      f"restart with it in the compiled-artifact cache: {span('restart_ms')} ms to listening.")
    w("")
    w("The listing's rows reach the handler as a finished JSON body: the host renders them "
      "(`db.query_json`, WIT 0.1.4) and the handler answers the bytes as they are, byte for byte "
      "what the Rust handler writes (`tests/points_api.rs`). Rendered in Python instead (a dict "
      "per row, `json.dumps`), the previous run of this script measured 772–833 req/s fresh and "
      "1,461–1,540 with reuse against Flask's 933–1,249: turning rows into JSON was most of a "
      "request in CPython (perf, reused instance: the interpreter 17% of samples, float-to-text "
      "13%, malloc 7%).")
    w("")
    w("Where a fresh CPython instance's cost went (perf on the host at saturation, one run each, "
      "`max_concurrency` 8 from the fourth step): with wasmtime 48.0.8 as published and 1 MiB kept "
      "resident per slot, 448 page faults and 804 TLB flushes per request, 8.5 ms of host CPU, "
      "226 req/s: the page-map reset stopped after 32 written runs and decommitted the rest of "
      "the heap, which the next instance re-faulted. With the scan completed and 16 MiB kept "
      "resident: 8 faults, 0.2 flushes, 1.9 ms, 971 req/s; with the function table reset in place "
      "too, 0.1 faults and 0.1 flushes. With the rows rendered by the host: 802 µs, 2,112 req/s, "
      "of which wasmtime looking up each function's code as the interpreter first calls it "
      "through its table was 35% of samples (`CompiledFunctionsTable::func_loc`: a namespace "
      "search and a binary search per function reference). With those locations indexed per "
      "module once at load (`vendor/README.md`): 521 µs, 3,090 req/s. Then initialising function "
      "references was 27% of samples, 11% of them the store's module registry searched (two "
      "B-tree lookups) for the instance's code at every reference; with that code found once per "
      "instance (`vendor/README.md`), December 5, same-time A/B on a slower day for the whole "
      "machine (`PYTHON=1 loadtest/ab.sh`, two runs of 3 rounds): 886–933 → 614–745 µs, "
      "1,791–1,876 → 2,180–2,605 req/s, and the table above, run after it. What remains per fresh "
      "request: the start function building a reference for each of the interpreter's "
      "thousands of table entries (CPython's libraries are linked dynamically, so wasmtime "
      "initialises their element segments eagerly, not lazily: 13% of samples), the page-map scan and restoring "
      "written pages (9%), the guest's own code (CPython and the SDK: 21%) and the kernel's "
      "loopback TCP and scheduling.")
    w("")
w("## Reproduce")
w("")
w("```sh")
w("loadtest/report.sh          # about 35 minutes on 2 cores warm, 50 cold; rewrites this file and report/")
w("loadtest/floor.sh           # the floor accounting alone (report.sh runs it)")
w("# the accounting by phase: one profile a run, kept by report.sh")
w(f"loadtest/before-after.sh {report_phases.BEFORE} 3  # geofn GET and POST, before and now, in turns")
w("NATIVE=1 loadtest/profile.sh '/points?limit=100' 8 && cp target/profile/by-phase.txt loadtest/report/by-phase-native-get.txt")
w("NATIVE=1 loadtest/profile.sh post 8 && cp target/profile/by-phase.txt loadtest/report/by-phase-native-post.txt")
w("loadtest/profile.sh /empty 8 && cp target/profile/by-phase.txt loadtest/report/by-phase-empty.txt")
w("loadtest/profile.sh /livez 8 && cp target/profile/by-phase.txt loadtest/report/by-phase-livez.txt")
w(f"python3 loadtest/make_report.py loadtest/report {clients} {hold} {rounds} > loadtest/REPORT.md  # this file again, with them")
w("loadtest/python.sh          # the Python handler against Flask (report/python.csv, kept by report.sh)")
w("```")
w("")
w("Raw numbers: `report/*.csv`, `report/pgbench-*.txt`, `report/criterion.txt`, `report/runs.txt`.")
print("\n".join(lines))
