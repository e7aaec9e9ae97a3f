"""The report's account of the per-request floor: what the kernel counts
of one fresh instance (loadtest/floor.sh), and what the memory reset
costs (loadtest/memory-reset.sh)."""

import csv

from report_phases import read_phases

# The phases of loadtest/profile_phases.py, grouped by what the empty
# handler's request does that a host route does not.
SPLIT = [
    ("the instance (instantiation, the call into wasm and the host's future around it, the "
     "guest, teardown and memory reset)",
     ("calling into wasm", "guest code", "instantiation", "instance teardown",
      "kernel: guest memory reset", "the host's own crates")),
    ("the dispatch (route lookup, admission, the memory budget, the request's copy in and the "
     "answer's out, their metrics)",
     ("routing, admission, middleware", "metrics")),
    ("tracing (the call's span)", ("tracing",)),
    ("waiting and waking at the call's extra await points (tokio, futex, epoll)",
     ("kernel: waiting and waking", "task scheduling")),
]


def floor_rows(out):
    path = out / "floor.csv"
    return {r["setting"]: r for r in csv.DictReader(open(path))} if path.exists() else None


def floor_accounting(out, w):
    """The floor of a fresh instance, counted by the kernel (floor.sh)."""
    rows = floor_rows(out)
    if rows is None or not {"hot", "cycled", "http-livez", "http-empty"} <= rows.keys():
        return
    w("### The per-request floor, accounted for")
    w("")
    w("`loadtest/floor.sh` counts, per request, what the kernel sees of one fresh instance of the "
      "empty handler: CPU (perf's task-clock), page faults, context switches, TLB flushes of the "
      "process (`tlb:tlb_flush`), TLB shootdown interrupts on the whole machine (`/proc/interrupts`) "
      "and system calls (`raw_syscalls:sys_enter`). *hot* is criterion's loop (instantiate + call "
      "one after another on one task: the same pool slot every time); *cycled* the same with 32 "
      "calls in flight, so 32 slots take turns as under load; *http* the running host at 32 "
      "connections, `GET /empty` against `GET /livez` (a host route that never enters wasm), each "
      "minus the same window of the idle host.")
    w("")
    w("| setting | host CPU µs/req | page faults | context switches | TLB flushes | TLB shootdowns | system calls |")
    w("|---|---|---|---|---|---|---|")
    names = {"hot": "instantiate + call, one slot (criterion's loop)",
             "cycled": "instantiate + call, 32 in flight",
             "http-livez": "HTTP `GET /livez`, no wasm",
             "http-empty": "HTTP `GET /empty`, a fresh instance",
             "http-scatter-16": "HTTP, the probe writing 16 pages 8 KiB apart",
             "http-scatter-100": "HTTP, the probe writing 100 pages 8 KiB apart"}
    keys = ["cpu_us", "page_faults", "context_switches", "tlb_flushes", "tlb_shootdowns", "syscalls"]
    for name, label in names.items():
        if name not in rows:
            continue
        r = rows[name]
        w(f"| {label} | " + " | ".join(r[k].replace("-0.000", "0.000") for k in keys) + " |")
    e, l = rows["http-empty"], rows["http-livez"]
    diff = {k: float(e[k]) - float(l[k]) for k in keys}
    w("| *the instance in the host: `/empty` − `/livez`* | " + " | ".join(
        f"*{diff[k]:.2f}*" if k == "cpu_us" else f"*{diff[k]:.3f}*" for k in keys) + " |")
    w("")
    hot, cycled = float(rows["hot"]["cpu_us"]), float(rows["cycled"]["cpu_us"])
    syscalls = out / "floor-syscalls.txt"
    listed = ""
    if syscalls.exists():
        lines_ = syscalls.read_text().splitlines()[1:]
        listed = ", ".join(f"`{n}` {v}" for n, v in (x.split() for x in lines_[1:8]))
    w(f"The instance costs the host {diff['cpu_us']:.1f} µs of CPU per request over a host route. "
      f"Criterion's loop accounts for {hot:.1f} µs of it; with 32 calls in flight the same work "
      f"costs {cycled:.1f} µs, {cycled - hot:.1f} µs more, with page faults, TLB flushes and system "
      "calls unchanged: that is memory traffic (each slot's tables, stack and first heap pages are "
      "cold in the caches when its turn comes back), not kernel work. The rest, "
      f"{diff['cpu_us'] - cycled:.1f} µs, is the request's path around the call in the host "
      "(the profile below splits it). The kernel's share is small: "
      f"{diff['page_faults']:.3f} page faults, {diff['tlb_shootdowns']:.3f} TLB shootdowns and "
      f"{diff['syscalls']:.2f} system calls more per request, the one system call being the "
      "`PAGEMAP_SCAN` ioctl that finds the pages the request wrote (`ioctl` in the strace "
      f"count of `GET /empty`, per request: {listed}). No `mprotect`, no `madvise` per request "
      "(the slot keeps 1 MiB of guest memory resident and resets only what was written), and "
      "no `getrandom`: wasmtime-wasi 48 seeds each WASI context's generators from the thread's "
      "own generator, which asks the OS only when it reseeds (0.002 calls per request). The "
      "`clock_nanosleep` calls are the epoch ticker's (one thread waking every millisecond for "
      "deadlines while any request is in a handler; parked while none is), `process_madvise` wasmtime's batched decommits of the "
      "slots of instances that grew beyond what stays resident.")
    w("")
    profile_split(out, w)
    if {"http-scatter-16", "http-scatter-100"} <= rows.keys():
        few, many = rows["http-scatter-16"], rows["http-scatter-100"]
        empty_faults = float(rows["http-empty"]["page_faults"])
        refaults = float(many["page_faults"]) - empty_faults
        w("A handler that writes its memory in many scattered places pays for each page written: "
          f"16 pages 8 KiB apart cost {float(few['cpu_us']):.1f} µs per request, 100 cost "
          f"{float(many['cpu_us']):.1f} µs: the guest's own writes, and the reset zeroing every "
          "page written. Before wasmtime 48.0.11 (PR #14357) one `PAGEMAP_SCAN` stopped after 32 "
          "dirty regions and the rest was decommitted, to fault in again on the slot's next "
          "request; `vendor/wasmtime.patch` carries the scan that resumes: "
          + (f"here 100 regions cost {float(many['page_faults']):.3f} page faults per request "
             f"against {float(few['page_faults']):.3f} for 16 and {empty_faults:.3f} for the empty "
             "handler, so no such re-faulting shows."
             if refaults < 1 else
             f"here 100 regions cost {refaults:.1f} page faults per request more than the empty "
             "handler: that re-faulting.") )
        w("")
    reset = out / "memory-reset.csv"
    if reset.exists():
        empty_rows = [r for r in csv.DictReader(open(reset)) if r["path"] == "/empty"]
        scan = sorted(float(r["scan_host_us"]) for r in empty_rows)
        full = sorted(float(r["full_host_us"]) for r in empty_rows)
        w("These counts are for the `PAGEMAP_SCAN` reset, geofn's default wherever the kernel "
          "has it (Linux 6.7+), swap or not: the scan finds written pages in swap too "
          "(docs/security.md). The full reset (`--memory-reset full`, and the default on older "
          "kernels) resets every page of the slot: `GET /empty` then costs the host "
          f"{full[0]:.0f}-{full[-1]:.0f} µs per request against {scan[0]:.0f}-{scan[-1]:.0f} "
          "with the scan (`loadtest/memory-reset.sh`, `report/memory-reset.csv`).")
        w("")


def profile_split(out, w):
    """`/empty` minus `/livez` phase by phase, from two profile.sh runs."""
    empty, livez = read_phases(out / "by-phase-empty.txt"), read_phases(out / "by-phase-livez.txt")
    if not empty or not livez:
        return
    total = sum(empty.values()) - sum(livez.values())
    groups = []
    rest = total
    for label, prefixes in SPLIT:
        phases = {p for p in empty.keys() | livez.keys() if p.startswith(prefixes)}
        us = sum(empty.get(p, 0) - livez.get(p, 0) for p in phases)
        rest -= us
        groups.append(f"{us:.1f} µs {label}")
    w(f"Where it goes, by `loadtest/profile.sh` (perf with call graphs, 64 connections, a "
      f"frame-pointer build; `report/by-phase-empty.txt`, `report/by-phase-livez.txt`): "
      f"`GET /empty` {sum(empty.values()):.0f} µs of host CPU per request against `GET /livez` "
      f"{sum(livez.values()):.0f} µs, {total:.1f} µs more: " + "; ".join(groups) +
      f"; everything else (HTTP, the network, the allocator) {rest:.1f} µs. The instance is "
      "most of it, and the dispatch's own code a small part. The profile counts the host's "
      "CPU differently from the table (utime + stime over the run, not perf stat's task-clock "
      "at 32 connections with every system call counted, and at another moment of a machine "
      "whose speed drifts), so the two differences are not the same figure; the split is the "
      "profile's.")
    w("")
