"""The swap-latency part of REPORT.md, from what `cargo bench -p geofn --bench
swap_latency` printed (report/swap-latency.txt): its distribution lines and
the two targets issue "Speed, round three" sets for them."""

import re

LINE = re.compile(r"^(?P<what>.+?): (?P<n>\d+) swaps, median (?P<median>[\d.]+) ms, "
                  r"p90 (?P<p90>[\d.]+) ms, p99 (?P<p99>[\d.]+) ms, max (?P<max>[\d.]+) ms")
TARGET_MS = 250.0


def runs(out):
    """Each distribution the bench printed, in its order; empty without the file."""
    path = out / "swap-latency.txt"
    if not path.exists():
        return []
    return [m.groupdict() for m in map(LINE.match, path.read_text().splitlines()) if m]


def _find(found, prefix):
    return next((r for r in found if r["what"].startswith(prefix)), None)


TARGETS = [("file swaps under load", "a swap visible within {ms:.0f} ms at the maximum, under load"),
           ("fleet push, sent", "a fleet push served by the other replica within {ms:.0f} ms")]


def target_rows(out, verdict):
    """The targets table's rows: the slowest swap under load, the slowest push."""
    found = runs(out)
    rows = []
    for prefix, target in TARGETS:
        run = _find(found, prefix)
        if run:
            worst = float(run["max"])
            rows.append(f"| {target.format(ms=TARGET_MS)} | max {worst:.1f} ms of {run['n']} "
                        f"(median {run['median']}) | {verdict(worst <= TARGET_MS)} |")
    return rows


def section(out, w):
    """The distributions and the slowest reloads' phases, as the bench printed them."""
    found = runs(out)
    if not found:
        return
    w("## Swaps under load (`cargo bench -p geofn --bench swap_latency`)")
    w("")
    w("The shipped handlers and the probe on one host; a new probe version written into the "
      "handlers directory, then the time until a request answers with it. Under load six clients "
      "read `/points?limit=100` and two write, on the same two cores. Fleet pushes go to one "
      "replica over its admin API while a second, under the same load, swaps on the database's "
      "notification. The bench alternates two versions, so after the first two every compile "
      "comes from the cache: a version no replica has compiled adds its compile to each swap.")
    w("")
    w("| what | swaps | median ms | p90 ms | p99 ms | max ms |")
    w("|---|---|---|---|---|---|")
    for r in found:
        w(f"| {r['what']} | {r['n']} | {r['median']} | {r['p90']} | {r['p99']} | {r['max']} |")
    w("")
    text = (out / "swap-latency.txt").read_text().splitlines()
    phases = [line for line in text if "slowest" in line or line.startswith("  ")]
    if phases:
        w("Where the slowest reloads spent their time (the host's own reload log, in ms), and the "
          "slowest push's answer (its `timings_ms`: received, compiled, checked, stored, swapped here):")
        w("")
        w("```")
        w("\n".join(phases))
        w("```")
        w("")
