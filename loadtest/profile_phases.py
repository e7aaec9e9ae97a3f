#!/usr/bin/env python3
"""Splits a host profile (folded stacks, loadtest/profile.sh) into the phases
of a request, so the CPU a request costs adds up by where it goes.

Each sample goes to one phase, decided from its stack: inside the guest
(entered through a wasm trampoline, not back out through a host import),
inside a host import the guest called (the `db` one or another), in the
kernel (a system call or an interrupt), in tracing (a stack whose innermost
frames are tracing's or OpenTelemetry's, helpers below them included), in
creating or tearing down the instance, or else host work named by the
library of its innermost frame that is not a helper (an allocation, a copy
or a drop counts for the code that asked for it).

    profile_phases.py STACKS_FOLDED [MICROSECONDS_PER_REQUEST]
    profile_phases.py --mean TABLE...

With the host's CPU per request (from a load run), each phase's share is
also shown in microseconds. `--mean` averages tables this script wrote
(runs taken in turns with another build, so the machine's drift falls on
both alike) into one of the same form.
"""

import collections
import re
import sys

TRACING = re.compile(r"tracing|opentelemetry|sharded_slab|prost::|tonic|otlp")
# Frames that do work on behalf of the frame above them.
HELPER = re.compile(r"mi_|malloc|free|memcpy|memmove|memset|memcmp|alloc::|core::ptr|hashbrown|"
                    r"RawVec|clone|drop_in_place|fmt::|Formatter|std::time|clock_gettime|vdso|"
                    r"thread_local|LocalKey|^0x|\[unknown\]")
# A future wrapped in a span: its poll's own samples are the wrapped
# future's work, inlined into it, so they count for the frame above.
WRAPPER = re.compile(r"tracing::instrument::Instrumented<.*>::poll")
KERNEL = re.compile(r"entry_SYSCALL_64|asm_sysvec|asm_common_interrupt|asm_exc_|ret_from_fork|"
                    r"irqentry_exit")
# The host's layers were modules of one crate before they were crates of
# their own (`geofn::db::` then, `geofn_db::` now): both names count, so a
# profile of an older commit (`AT=... loadtest/profile.sh`) splits the same.
DB = re.compile(r"geofn_db::|geofn::db::|geofn_contract::packed|tokio_postgres|postgres_protocol|deadpool")
# Matched against the kernel's frames only (from the system call's or the
# interrupt's entry inward): the user-space frames above them name tokio's
# "scheduler", which once put every PAGEMAP_SCAN under waiting and waking.
SYSCALL_KIND = [("network send", r"__send|sendto|sendmsg|writev|tcp_sendmsg"),
                ("network receive", r"recv|tcp_recvmsg"),
                ("guest memory reset (PAGEMAP_SCAN, madvise)", r"pagemap|ioctl|madvise"),
                ("waiting and waking (futex, epoll, sleep)",
                 r"futex|epoll|nanosleep|schedule|try_to_wake_up")]
# Host work: the phase a stack is in (outer frames), when one says so...
PHASE = [("instantiation", r"instantiate|InstancePre|Instance::new|Store<.*>::new|"
                           r"WasiCtxBuilder"),
         ("instance teardown and memory reset", r"deallocate|decommit|DecommitQueue|"
                                                r"drop_in_place<wasmtime")]
# ...else the library of its innermost frame that is not a helper.
LIBRARY = [("metrics", r"metrics"),
           ("ETag: hashing the body (sha2)", r"sha2|caching::"),
           ("compression layer", r"compression|async_compression|zstd|brotli|flate2"),
           ("HTTP parsing and writing (hyper, http)", r"hyper|httparse|^<?http::|bytes::"),
           ("routing, admission, middleware (axum, tower, geofn_http)",
            r"axum|tower|geofn_http|geofn::(http|server)::|matchit"),
           ("calling into wasm (wasmtime)", r"wasmtime"),
           ("task scheduling and timers (tokio)", r"tokio"),
           ("the host's own crates", r"geofn")]


def phase(frames):
    entered = max((i for i, f in enumerate(frames) if "array_to_wasm_trampoline" in f), default=-1)
    called_out = max((i for i, f in enumerate(frames) if "cabi_entrypoint" in f), default=-1)
    entry = next((i for i, f in enumerate(frames) if KERNEL.search(f)), None)
    if entry is not None:
        stack = ";".join(frames[entry:])
        for name, pattern in SYSCALL_KIND:
            if re.search(pattern, stack):
                return "kernel: " + name
        return "kernel: other"
    innermost_tracing = None
    for i in range(len(frames) - 1, -1, -1):
        if WRAPPER.search(frames[i]):
            continue
        if TRACING.search(frames[i]):
            innermost_tracing = i
        elif not HELPER.search(frames[i]):
            break
    if innermost_tracing is not None:
        return "tracing and logs"
    if entered >= 0 and called_out < entered:
        return "guest code"
    if called_out > entered >= 0:
        tail = ";".join(frames[called_out:])
        return "db import (pool, statement, rows)" if DB.search(tail) else "other imports"
    stack = ";".join(frames)
    for name, pattern in PHASE:
        if re.search(pattern, stack):
            return name
    inner = next((f for f in reversed(frames) if not (HELPER.search(f) or WRAPPER.search(f))), "")
    for name, pattern in LIBRARY:
        if re.search(pattern, inner):
            return name
    return "other host work (allocator, libc, unresolved)"


def print_table(weights, per_request, samples):
    """One line a phase, largest first: its share of `weights` and, with
    `per_request`, its µs."""
    total = sum(weights.values())
    print(f"{'phase':62s} {'share':>6s}" + ("  µs/req" if per_request else ""))
    for name, n in weights.most_common():
        share = n / total
        cost = f"  {share * per_request:6.1f}" if per_request else ""
        print(f"{name:62s} {100 * share:5.1f}%{cost}")
    print(f"{'(samples)':62s} {samples:6d}")


def mean(tables):
    """The mean µs of each phase over tables of this script's form."""
    us, samples = collections.Counter(), 0
    for path in tables:
        for line in open(path):
            name, _, rest = line.rstrip("\n").partition("  ")
            fields = rest.split()
            if name.startswith("(samples)"):
                samples += int(line.split()[-1])
            elif len(fields) == 2 and fields[0].endswith("%"):
                us[name.rstrip()] += float(fields[1]) / len(tables)
    print_table(us, sum(us.values()), samples)


def main():
    if sys.argv[1] == "--mean":
        return mean(sys.argv[2:])
    per_request = float(sys.argv[2]) if len(sys.argv) > 2 else None
    counts = collections.Counter()
    for line in open(sys.argv[1]):
        stack, _, n = line.rstrip("\n").rpartition(" ")
        counts[phase(stack.split(";"))] += int(n)
    print_table(counts, per_request, sum(counts.values()))


if __name__ == "__main__":
    main()
