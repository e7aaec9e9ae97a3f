#!/usr/bin/env bash
# Keeps a build cache that outlives the clone from filling its disk: once
# it did, and CI failed in initdb ("No space left on device"). Incremental
# state is dropped every time (CI never builds the same sources twice); the
# whole cache goes when the disk still has less than GEOFN_MIN_FREE_GB free,
# and the build starts from empty, which CI must survive anyway.
set -euo pipefail
target="${1:?usage: ci-disk-guard.sh TARGET_DIR}"
min_free_gb="${GEOFN_MIN_FREE_GB:-20}"

free_gb() { df -P -BG "$target" | awk 'NR == 2 { sub("G", "", $4); print $4 }'; }

rm -rf "$target"/debug/incremental "$target"/release/incremental
if (( $(free_gb) < min_free_gb )); then
    echo "ci-disk-guard: $(free_gb) GB free under $target (< $min_free_gb): emptying the build cache"
    rm -rf "${target:?}"/*
fi
echo "ci-disk-guard: $(free_gb) GB free, build cache $(du -sh "$target" | cut -f1)"
