"""The per-request accounting of REPORT.md: where the host's CPU per request
goes, phase by phase, for geofn and the native server, from
`loadtest/profile.sh` runs kept in the report folder as by-phase-get.txt,
by-phase-post.txt, with NATIVE=1 by-phase-native-get.txt and
by-phase-native-post.txt, and with AT=<commit> by-phase-get-before.txt and
by-phase-post-before.txt: the host and handlers where this round of work
started, profiled beside the others with the same classifier
(loadtest/profile_phases.py wrote them all)."""

import re

ROW = re.compile(r"^(?P<phase>.+?)\s+(?P<share>[\d.]+)%\s+(?P<us>[\d.]+)$")
RUNS = [("get-before", "geofn GET before"), ("get", "geofn GET"), ("native-get", "native GET"),
        ("post-before", "geofn POST before"), ("post", "geofn POST"), ("native-post", "native POST")]


def read_phases(path):
    """A profile_phases.py table as {phase: µs per request}; {} when absent."""
    if not path.exists():
        return {}
    return {m["phase"]: float(m["us"]) for m in map(ROW.match, path.read_text().splitlines()) if m}


def table(out, w):
    """µs of host CPU per request by phase, one column a run; False without the files."""
    runs = [(label, read_phases(out / f"by-phase-{name}.txt")) for name, label in RUNS]
    runs = [(label, found) for label, found in runs if found]
    if not runs:
        return False
    phases = sorted({p for _, found in runs for p in found},
                    key=lambda p: -sum(found.get(p, 0) for _, found in runs))
    w("| phase of a request (host CPU, µs) | " + " | ".join(label for label, _ in runs) + " |")
    w("|---|" + "---|" * len(runs))
    for phase in phases:
        w(f"| {phase} | " + " | ".join(f"{found[phase]:.1f}" if phase in found else ""
                                       for _, found in runs) + " |")
    w("| **all** | " + " | ".join(f"**{sum(found.values()):.0f}**" for _, found in runs) + " |")
    w("")
    return True


# Where this round of work (the per-request gap to native) started: the
# "before" profiles are of the host and handlers at this commit, and what
# landed since beside the round's cuts.
BEFORE = "7b76ac1"
SINCE_BEFORE = ("What grew came with what landed in the same weeks: entity tags on every "
                "`GET` (conditional requests), the listing's rows rendered by the host instead "
                "of the guest (their cost now in the `db` import, and the rendered page copied "
                "into the guest among the other imports), and request and call spans for "
                "traces; the guest's own code and the layers' cuts paid for them.")


def before_and_after(out, w, count=4):
    """What moved between the before and the now profiles, request by request:
    the largest cuts and the largest growths, since both happened."""
    lines = []
    for name, request in (("get", "`GET /points?limit=100`"), ("post", "`POST /point`")):
        before = read_phases(out / f"by-phase-{name}-before.txt")
        now = read_phases(out / f"by-phase-{name}.txt")
        if not (before and now):
            continue
        moved = sorted(((now.get(p, 0.0) - before.get(p, 0.0), p) for p in before.keys() | now.keys()))
        moves = [", ".join(f"{p} {before.get(p, 0.0):.1f} → {now.get(p, 0.0):.1f}"
                           for change, p in side if sign * change > 0.5)
                 for side, sign in ((moved[:count], -1), (moved[::-1][:count], 1))]
        lines.append(f"{request} {sum(before.values()):.0f} → {sum(now.values()):.0f} µs "
                     f"(cut most: {moves[0] or 'nothing'}; grew most: {moves[1] or 'nothing'})")
    if not lines:
        return
    w(f"*before* is the host and handlers at {BEFORE}, where this round of work started, "
      f"profiled the same way in turns with the present build (`loadtest/before-after.sh`: "
      f"`AT={BEFORE} loadtest/profile.sh` and this tree's, alternating, with this tree's load "
      "generator and classifier; each column the mean of the runs): " + "; ".join(lines)
      + ". " + SINCE_BEFORE)
    w("")
