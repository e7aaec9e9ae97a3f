"""The per-request accounting of REPORT.md: where the host's CPU per request
goes, phase by phase, for geofn and the native server, from
`loadtest/profile.sh` runs kept in the report folder as by-phase-get.txt,
by-phase-post.txt and, with NATIVE=1, by-phase-native-get.txt and
by-phase-native-post.txt (loadtest/profile_phases.py wrote them)."""

import re

ROW = re.compile(r"^(?P<phase>.+?)\s+(?P<share>[\d.]+)%\s+(?P<us>[\d.]+)$")
RUNS = [("get", "geofn GET"), ("native-get", "native GET"),
        ("post", "geofn POST"), ("native-post", "native POST")]


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
