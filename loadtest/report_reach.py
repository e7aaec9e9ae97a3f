"""The report's answer, for each missed throughput target, to "what would
reach it": the CPU per request the target allows the host over the native
server on this machine, against what the design itself costs per request
(the phases of loadtest/profile_phases.py that exist only because a request
runs in a wasm instance), and the design change that would close the rest.

The allowance is the best case of REPORT.md's "How much room the targets
leave": the machine's cost of a request (cores x 1 s / rate) at the target
rate, less the native server's at its own rate."""

from report_floor import floor_rows
from report_inputs import held
from report_phases import read_phases

# What a request pays only because it runs in a fresh wasm instance...
INSTANCE = ("instantiation", "instance teardown and memory reset",
            "kernel: guest memory reset (PAGEMAP_SCAN, madvise)")
# ...and what it still pays when the instance is reused.
IN_WASM = ("guest code", "calling into wasm (wasmtime)", "other imports")
ROUTING = "routing, admission, middleware (axum, tower, geofn_http)"
# The closed model's users think 1-2 s between requests (loadtest/locustfile.py).
MEAN_THINK_S = 1.5


def allowance(cores, native_rps, fraction):
    """µs of machine time per request the target leaves over the native server."""
    return cores * 1e6 / (fraction * native_rps) - cores * 1e6 / native_rps


def floor(out, w):
    """The floor target, in the empty handler's and the host route's profiles."""
    empty, livez = read_phases(out / "by-phase-empty.txt"), read_phases(out / "by-phase-livez.txt")
    if not empty or not livez:
        return
    over = sum(empty.values()) - sum(livez.values())
    instance = price(empty, INSTANCE)
    counted = floor_rows(out) or {}
    kernel = (f" (floor.sh's task-clock count of the whole: "
              f"{float(counted['http-empty']['cpu_us']) - float(counted['http-livez']['cpu_us']):.1f} µs)"
              if {"http-empty", "http-livez"} <= counted.keys() else "")
    w(f"The floor (`GET /empty` over `GET /livez`, 15 µs): by the profiles it is {over:.1f} µs, of "
      f"which the instance's creation, teardown and memory reset are {instance:.1f} and the call "
      f"into wasm {empty.get('calling into wasm (wasmtime)', 0):.1f}. The in-place reset above "
      f"would take the first off, leaving {over - instance:.1f} µs on the profile's count{kernel}; "
      "it is the change that would move the floor most.")
    w("")


def most(ramp):
    """The highest rate a ramp answered, at any of its steps."""
    return max(float(row["throughput_per_s"]) for row in ramp)


def largest_excess(phases, native, count=4):
    """The phases outside the design's price that cost geofn most over native."""
    design = set(INSTANCE + IN_WASM)
    # The native server's own code, tokio-postgres and serde_json are its
    # "other host work"; geofn's counterpart is mostly its `db` import.
    own = {"other host work (allocator, libc, unresolved)", "db import (pool, statement, rows)"}
    excess = {p: us - native.get(p, 0.0) for p, us in phases.items() if p not in design | own}
    excess["db import and other host work"] = (price(phases, own) - price(native, own))
    return sorted(excess.items(), key=lambda item: -item[1])[:count]


def price(phases, names):
    return sum(phases.get(name, 0.0) for name in names)


def section(out, w, cores, native_rps, reuse_ratio, pg_insert, users, native_users):
    """Writes "What would reach the missed targets"; nothing without the
    GET and POST profiles. `native_rps` and `reuse_ratio` (reuse over
    native, as the targets table has it) are keyed "get" and "post"."""
    get, post = read_phases(out / "by-phase-get.txt"), read_phases(out / "by-phase-post.txt")
    if not get or not post:
        return
    w("### What would reach the missed targets")
    w("")
    w("Each throughput target allows the host some CPU per request over the native server "
      "(the best case above). A fresh instance costs its creation and teardown "
      "(instantiation, teardown and the memory reset, by the profiles above), and every request "
      "in wasm, fresh or reused, costs the guest's code, the call into wasm with its copies, and "
      "the guest's other calls into the host. When that price alone passes the allowance, no cut "
      "of the layers around it reaches the target, and only a change of design does.")
    w("")
    w("| target | allowed over native | the design's price (profile) | left for the rest | "
      "the rest today: routing, HTTP, tracing, `db` import, kernel (over native) |")
    w("|---|---|---|---|---|")
    fitting = []
    for name, phases in (("GET", get), ("POST", post)):
        native = read_phases(out / f"by-phase-native-{name.lower()}.txt")
        fresh, reused = price(phases, INSTANCE + IN_WASM), price(phases, IN_WASM)
        rest = sum(phases.values()) - fresh - sum(native.values()) if native else None
        for target, fraction, cost in ((f"fresh instances ≥ 0.85× native, {name}", 0.85, fresh),
                                       (f"reuse on ≥ 0.95× native, {name}", 0.95, reused)):
            allowed = allowance(cores, native_rps[name.lower()], fraction)
            left = allowed - cost
            if left >= 0 and native:
                fitting.append((target, left, rest, largest_excess(phases, native)))
            cell = f"{left:.0f} µs" if left >= 0 else f"none (the price is {-left:.0f} µs over)"
            w(f"| {target} | {allowed:.0f} µs | {cost:.0f} µs | {cell} | "
              + (f"{rest:.0f} µs |" if rest is not None else " |"))
    w("")
    for target, left, rest, excess in fitting:
        named = ", ".join(f"{phase} +{us:.1f}" for phase, us in excess)
        w(f"Where the price fits ({target}), the rest would have to come down from {rest:.0f} µs "
          f"over native to {left:.0f}; its largest parts: {named} µs.")
        w("")
    short = " and ".join(name.upper() for name, ratio in reuse_ratio.items() if ratio < 0.85)
    still = (f", and still miss 0.85× on {short}: the guest's work and the call into wasm remain"
             if short else "")
    w(f"Reuse measures what taking the instance's creation and teardown off the request buys: "
      f"{reuse_ratio['get']:.2f}× native on GET and {reuse_ratio['post']:.2f}× on POST. An instance "
      "reset in place, which wasmtime does not offer (its pooling allocator frees a slot and "
      "instantiates into it again; wasmtime issue #14313 proposes `Instance::reset` for pooled "
      "untrusted guests, and PR #3691, a copy-on-write reset, was closed unmerged), would give fresh instances close to those figures with their "
      f"isolation kept (the memory reset stays){still}. What would reach the fresh and reuse targets is a route the host serves "
      "without entering a guest: a parameterised query the handler's manifest declares, its rows "
      "rendered by the host (the `db.query-json` renderer these runs already use), with the "
      "handler's code kept for what a query cannot say. That takes the price in the table off "
      "the request; what remains is the layers, which a path for handler routes ahead of axum's "
      "router and its middleware would bring toward the native server's (routing and middleware "
      f"cost {get.get(ROUTING, 0):.0f} µs per GET, the native server "
      f"{read_phases(out / 'by-phase-native-get.txt').get(ROUTING, 0):.0f}). "
      "It changes the contract (DESIGN.md's request path) and is "
      "not built. The p99 targets follow the rates: at 32 connections a request waits behind the "
      "others, so its latency scales with the time each costs.")
    w("")
    floor(out, w)
    insert_ratio = native_rps["post"] / pg_insert
    w(f"`POST /point` against pgbench's INSERT: the native server itself reaches {insert_ratio:.2f}× "
      "of pgbench on these cores, since pgbench adds no HTTP, no JSON and no server of its own "
      "beside PostgreSQL. Reaching 0.7× needs PostgreSQL on cores of its own (a deployment, not "
      "the host, changes that), and then the host's CPU per request decides.")
    w("")
    if native_users:
        top, native_top = users[-1], native_users[-1]
        offered = int(top["users"]) / MEAN_THINK_S
        w(f"The guide's closed model: users are held as long as the rate they offer fits in the "
          f"capacity, so geofn holds {held(users)} against native's {held(native_users)}, about "
          "the ratio of the rates above, and moves with them. At "
          f"{top['users']} users the offered rate passes both servers' capacity on these cores: "
          f"native answers {float(native_top['throughput_per_s']):.0f} req/s with p95 "
          f"{float(native_top['p95_ms']):.0f} ms (it queues), geofn "
          f"{float(top['throughput_per_s']):.0f} req/s and refuses the rest at once (p95 "
          f"{float(top['p95_ms']):.0f} ms). Neither meets p95 < 100 ms with no failure there: "
          f"users thinking 1.5 s on average offer about {offered:.0f} req/s, "
          f"{offered / most(native_users):.1f}× the most native served in its ramp and "
          f"{offered / most(users):.1f}× geofn's, which only "
          "more cores reach (replicas on machines of their own, as the compose stacks and the "
          "chart deploy them).")
        w("")
