"""What loadtest/report.sh left in its report folder, read back for
make_report.py: run summaries, CPU per request, load steps, pgbench and
criterion figures, and the machine's CPU."""

import csv
import os
import platform
import re


def summary(out, hold, name):
    rows = list(csv.DictReader(open(out / f"{name}-summary.csv")))
    row = next(r for r in rows if r["request"] == "all")
    seconds = float(hold.rstrip("s"))
    requests, failures = int(row["requests"]), int(row["failures"])
    return {
        "rps": (requests - failures) / seconds,
        "failures": failures,
        "p50": float(row["p50_ms"]),
        "p95": float(row["p95_ms"]),
        "p99": float(row["p99_ms"]),
    }


def cpu_per_request(out, hold):
    """µs of CPU per answered request, of the server and of PostgreSQL, by run label."""
    path = out / "cpu.csv"
    if not path.exists():
        return {}
    tick_us = 1e6 / os.sysconf("SC_CLK_TCK")
    table = {}
    for row in csv.DictReader(open(path)):
        answered = summary(out, hold, row["label"])["rps"] * float(hold.rstrip("s"))
        if answered > 0:
            table[row["label"]] = (int(row["server_ticks"]) * tick_us / answered,
                                   int(row["postgres_ticks"]) * tick_us / answered)
    return table


def steps(out, name):
    return list(csv.DictReader(open(out / f"{name}-steps.csv")))


def pgbench(out, script):
    text = (out / f"pgbench-{script}.txt").read_text()
    tps = float(re.search(r"tps = ([\d.]+)", text).group(1))
    latency = float(re.search(r"latency average = ([\d.]+) ms", text).group(1))
    return tps, latency


def criterion(out):
    text = (out / "criterion.txt").read_text()
    match = re.search(r"time:\s+\[([\d.]+) (\S+) ([\d.]+) (\S+) ([\d.]+) (\S+)\]", text)
    if not match:
        return None
    value, unit = float(match.group(3)), match.group(4)
    scale = {"ns": 0.001, "µs": 1.0, "us": 1.0, "ms": 1000.0}[unit]
    return value * scale


def cpu():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def held(ramp):
    """The most users of a ramp answered with p95 < 100 ms and no failure,
    counting only the steps before the first one that missed."""
    best = 0
    for row in ramp:
        if float(row["p95_ms"]) >= 100 or float(row["failures_per_s"]) > 0:
            break
        best = int(row["users"])
    return best
