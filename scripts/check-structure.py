#!/usr/bin/env python3
"""The structure the code must keep, checked from the code itself.

1. Crates depend one way: each workspace crate of the host may depend only
   on the layers below it (LAYERS), and the database layer reaches no wasm
   or HTTP crate, not even through another.
2. No module import circle inside any crate of ours: a file never reaches
   itself through `use` (or a `crate::`/`super::` path in its code).
3. No source file of ours over MAX_LINES lines (tests, benches, fuzz
   targets, vendored and generated code aside).

Run from anywhere: `python3 scripts/check-structure.py` (it prints the
crate graph and any finding, and exits 1 on a finding). `--graph` prints
the module graph of every crate too.
"""

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_LINES = 400

# Each host crate and the workspace crates it may depend on: the layers,
# bottom up. A crate missing here is refused, so a new one is placed
# deliberately.
LAYERS = {
    "geofn-contract": set(),
    "geofn-telemetry": set(),
    "geofn-pgcluster": set(),
    # Tests' and benches' token issuer: a dev-dependency only.
    "geofn-test-issuer": set(),
    "geofn-test-registry": set(),
    "geofn-auth": {"geofn-contract", "geofn-telemetry"},
    "geofn-oci": {"geofn-telemetry"},
    "geofn-db": {"geofn-contract", "geofn-telemetry"},
    "geofn-runtime": {"geofn-auth", "geofn-contract", "geofn-db", "geofn-telemetry"},
    "geofn-handler-set": {
        "geofn-contract", "geofn-db", "geofn-oci", "geofn-runtime", "geofn-telemetry",
    },
    "geofn-http": {
        "geofn-auth", "geofn-contract", "geofn-db", "geofn-handler-set", "geofn-oci",
        "geofn-runtime", "geofn-telemetry",
    },
    "geofn": {
        "geofn-auth", "geofn-contract", "geofn-db", "geofn-handler-set", "geofn-http",
        "geofn-oci", "geofn-pgcluster", "geofn-runtime", "geofn-telemetry",
    },
}
# Crates (by name prefix) the database layer must not reach at all.
NOT_IN_DB = ("wasmtime", "wasmparser", "wit-", "cranelift", "axum", "hyper", "tower", "http")

# Source files that are not ours to size, or not source.
SIZE_EXEMPT = re.compile(
    r"(^|/)(tests|benches|fuzz|vendor|target|node_modules)/|(^|/)assets/vendor/"
)
SIZE_SUFFIXES = (".rs", ".py", ".sh", ".js")

USE = re.compile(r"\buse\s+([^;]+);", re.S)
PATH = re.compile(r"\b(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)+)")
MOD_DECL = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+([a-z_][a-z0-9_]*)\s*;", re.M)
INLINE_MOD = re.compile(r"\bmod\s+([a-z_][a-z0-9_]*)\s*\{")


def strip_comments_and_strings(text):
    """The code without comments, string and char literals (same line count)."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("\n" * text.count("\n", i, j))
            i = j
        elif c == "r" and re.match(r'r#*"', text[i:i + 10]) and not text[i - 1:i].isalnum():
            hashes = re.match(r'r(#*)"', text[i:]).group(1)
            end = '"' + hashes
            j = text.find(end, i + 2 + len(hashes))
            j = n if j < 0 else j + len(end)
            out.append("\n" * text.count("\n", i, j))
            i = j
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append("\n" * text.count("\n", i, j))
            i = j + 1
        elif c == "'" and re.match(r"'(\\.|[^\\'])'", text[i:i + 4]):
            i += len(re.match(r"'(\\.|[^\\'])'", text[i:i + 4]).group(0))
        else:
            out.append(c)
            i += 1
    return "".join(out)


def module_files(src):
    """Every module file of a crate's `src`, by module path (a tuple)."""
    files = {}
    for path in src.rglob("*.rs"):
        rel = path.relative_to(src).with_suffix("")
        parts = rel.parts
        if parts[0] == "bin":
            continue
        if parts[-1] in ("lib", "main") and len(parts) == 1:
            parts = ()
        elif parts[-1] == "mod":
            parts = parts[:-1]
        files[tuple(parts)] = path
    return files


def resolve(files, module):
    """The file that defines `module` or the longest prefix of it."""
    for end in range(len(module), -1, -1):
        if module[:end] in files:
            return module[:end]
    return None


def use_paths(tree):
    """Flattened paths of one `use` tree: `a::{b, c::d as e}` -> a::b, a::c::d."""
    out = []

    def walk(prefix, text):
        depth, start, items = 0, 0, []
        for k, ch in enumerate(text):
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            elif ch == "," and depth == 0:
                items.append(text[start:k])
                start = k + 1
        items.append(text[start:])
        for item in (i.strip() for i in items):
            if not item:
                continue
            brace = item.find("{")
            if brace >= 0:
                walk(prefix + item[:brace].strip(), item[brace + 1:item.rfind("}")])
            else:
                out.append(prefix + re.split(r"\s+as\s+", item)[0].strip())

    walk("", " ".join(tree.split()))
    return out


def inline_modules(code):
    """(start, end, name) of every inline `mod name { ... }` block."""
    blocks = []
    for match in INLINE_MOD.finditer(code):
        depth, k = 0, match.end() - 1
        while k < len(code):
            if code[k] == "{":
                depth += 1
            elif code[k] == "}":
                depth -= 1
                if depth == 0:
                    break
            k += 1
        blocks.append((match.start(), k, match.group(1)))
    return blocks


def module_edges(src):
    """Edges file -> file of one crate, from `use` and `crate::`/`super::` paths."""
    files = module_files(src)
    edges = {m: set() for m in files}
    for module, path in files.items():
        code = strip_comments_and_strings(path.read_text())
        children = set(MOD_DECL.findall(code))
        blocks = inline_modules(code)
        targets = []

        def scope(at):
            """The module a position is in: the file's, or an inline one in it."""
            inner = tuple(name for start, end, name in blocks if start < at < end)
            return module + inner

        for use in USE.finditer(code):
            here = scope(use.start())
            parent = here[:-1]
            for p in use_paths(use.group(1)):
                segs = [s for s in p.split("::") if s]
                if not segs:
                    continue
                head, rest = segs[0], segs[1:]
                if head == "crate":
                    targets.append(tuple(rest))
                elif head == "super":
                    base, rest2 = parent, rest
                    while rest2 and rest2[0] == "super":
                        base, rest2 = base[:-1], rest2[1:]
                    targets.append(base + tuple(rest2))
                elif head == "self":
                    targets.append(here + tuple(rest))
                elif head in children:
                    targets.append(here + tuple(segs))
        for path_match in PATH.finditer(code):
            kind, tail = path_match.groups()
            segs = tuple(s for s in tail.split("::") if s)
            if kind == "crate":
                targets.append(segs)
            elif kind == "super":
                base = scope(path_match.start())[:-1]
                while segs and segs[0] == "super":
                    base, segs = base[:-1], segs[1:]
                targets.append(base + segs)
        for target in targets:
            found = resolve(files, target)
            if found is not None and found != module:
                edges[module].add(found)
    return files, edges


def cycles(edges):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(component)

    sys.setrecursionlimit(10000)
    for v in edges:
        if v not in index:
            visit(v)
    return out


def metadata():
    result = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--offline"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )
    return json.loads(result.stdout)


def main():
    show_modules = "--graph" in sys.argv
    findings = []
    meta = metadata()
    members = {p["id"]: p for p in meta["packages"] if p["id"] in meta["workspace_members"]}
    names = {p["name"] for p in members.values()}

    print("crate graph (normal dependencies among the host's crates):")
    for package in sorted(members.values(), key=lambda p: p["name"]):
        name = package["name"]
        deps = sorted(
            d["name"] for d in package["dependencies"]
            if d["name"] in names and d["kind"] is None
        )
        if name in LAYERS:
            print(f"  {name} -> {', '.join(deps) or '(none)'}")
            for dep in deps:
                if dep not in LAYERS[name]:
                    findings.append(f"{name} depends on {dep}, which is not below it")
        elif name.startswith("geofn-") and name not in ("geofn-guest", "geofn-load"):
            findings.append(f"{name} is not placed in a layer (scripts/check-structure.py LAYERS)")

    tree = subprocess.run(
        ["cargo", "tree", "--offline", "-p", "geofn-db", "-e", "normal", "--prefix", "none"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split("\n")
    reached = sorted({line.split()[0] for line in tree if line.strip()})
    for crate in reached:
        if crate.startswith(NOT_IN_DB):
            findings.append(f"geofn-db reaches {crate}: the database layer has no wasm or HTTP")
    print(f"geofn-db reaches {len(reached)} crates, none of wasm or HTTP"
          if not any(c.startswith(NOT_IN_DB) for c in reached) else "")

    for package in sorted(members.values(), key=lambda p: p["name"]):
        src = Path(package["manifest_path"]).parent / "src"
        if not src.is_dir():
            continue
        files, edges = module_edges(src)
        rel = src.relative_to(ROOT)
        for component in cycles(edges):
            shown = ", ".join(str(files[m].relative_to(ROOT)) for m in sorted(component))
            findings.append(f"{package['name']}: modules import each other in a circle: {shown}")
        if show_modules:
            print(f"{package['name']} ({rel}):")
            for module in sorted(edges):
                targets = ", ".join("::".join(t) or "(root)" for t in sorted(edges[module]))
                print(f"  {'::'.join(module) or '(root)'} -> {targets or '-'}")
    print(f"module graphs of {len(members)} crates: "
          + ("no circle" if not any("circle" in f for f in findings) else "circles found"))

    tracked = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split()
    longest = 0
    for name in tracked:
        if not name.endswith(SIZE_SUFFIXES) or SIZE_EXEMPT.search(name):
            continue
        path = ROOT / name
        if not path.is_file():
            continue
        lines = path.read_text(errors="replace").count("\n")
        longest = max(longest, lines)
        if lines > MAX_LINES:
            findings.append(f"{name} has {lines} lines (at most {MAX_LINES}): split it by concern")
    print(f"longest source file of ours: {longest} lines (limit {MAX_LINES})")

    for finding in findings:
        print(f"FAIL: {finding}")
    sys.exit(1 if findings else 0)


if __name__ == "__main__":
    main()
