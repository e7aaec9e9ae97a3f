#!/usr/bin/env python3
"""Folds `perf script` output into one line per distinct stack
("outer;...;inner count"), the input format of flamegraph tools."""

import collections
import re
import sys

# "symbol+0x1c": the offset would split one function into many frames.
OFFSET = re.compile(r"\+0x[0-9a-f]+$")


def fold(lines):
    counts = collections.Counter()
    frames = []
    for line in lines:
        line = line.rstrip("\n")
        if not line.strip():
            if frames:
                counts[";".join(reversed(frames))] += 1
            frames = []
        elif line.startswith(("\t", " ")):
            parts = line.strip().split(" ", 1)
            symbol = parts[1] if len(parts) > 1 else parts[0]
            symbol = OFFSET.sub("", symbol.split(" (")[0])
            frames.append(symbol.replace(";", ":") or "[unknown]")
    if frames:
        counts[";".join(reversed(frames))] += 1
    return counts


def main():
    for stack, count in fold(sys.stdin).most_common():
        print(f"{stack} {count}")


if __name__ == "__main__":
    main()
