#!/usr/bin/env bash
# Where a geofn host spends its time under load: saturates one route with the
# Rust load generator and records, on the host process only,
#   - system calls per request (strace -c, a few seconds),
#   - a CPU profile with call graphs (perf record -g), reported by shared
#     object, by symbol, and as folded stacks for a flamegraph tool.
# The host is built with frame pointers and line tables into its own target
# folder, so the release build stays as it is. Everything on 127.0.0.1.
#
#   loadtest/profile.sh ["/points?limit=100" | post] [seconds]
#
# `post` profiles `POST /point` with random points, as the load report sends them.
set -euo pipefail
cd "$(dirname "$0")/.."
path=${1:-/points?limit=100}
seconds=${2:-6}
mix=get
if [[ $path == post ]]; then
  mix=post path="POST /point"
fi
out=target/profile
mkdir -p "$out"
raw=$(mktemp -d /tmp/geofn-profile.XXXXXX)
chmod 755 "$raw"

command -v perf >/dev/null || apt-get install -y -q linux-perf >/dev/null
command -v strace >/dev/null || apt-get install -y -q strace >/dev/null
make handlers >/dev/null
cargo build --release -p geofn-load >/dev/null
profiled=/tmp/geofn-profile-target
CARGO_TARGET_DIR=$profiled CARGO_PROFILE_RELEASE_DEBUG=line-tables-only \
  RUSTFLAGS="-C force-frame-pointers=yes" cargo build --release -p geofn >/dev/null
target=${CARGO_TARGET_DIR:-target}

"$profiled/release/geofn" dev --perf-map --listen 127.0.0.1:0 --handlers "$target/handlers" \
  --data-dir "$raw/data" --no-cache >"$raw/geofn.out" 2>"$raw/geofn.log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait 2>/dev/null; rm -rf "$raw"' EXIT
for _ in $(seq 1 120); do grep -q listening "$raw/geofn.out" && break; sleep 0.5; done
url=$(sed -n 's/^geofn listening on //p' "$raw/geofn.out")
pg_port=$(sed -n 4p "$raw/data/pgdata/postmaster.pid")
PGPASSWORD=$(cat "$raw/data/password") psql -q -h 127.0.0.1 -p "$pg_port" -U geofn geofn -c \
  "INSERT INTO points.points (name, geom) SELECT 'seed ' || g, ST_SetSRID(ST_MakePoint(random()*360-180, random()*180-90), 4326) FROM generate_series(1, 1000) g"

load() {
  "$target/release/geofn-load" closed --quiet --label profile --url "$url" --mix "$mix" --get-path "$path" \
    --users 64 --spawn-rate 10000 --think-min 0s --think-max 0s --hold "$1" --out "$raw/load" | tail -1
}
echo "== system calls while serving $path ($seconds s)"
(sleep 2; timeout -s INT "$seconds" strace -c -f -p "$pid" -o "$out/syscalls.txt" 2>/dev/null || true) &
tracer=$!
load "$((seconds + 4))s"
wait "$tracer"
head -15 "$out/syscalls.txt"
echo "== CPU profile ($seconds s)"
(sleep 2; perf record -q -F 1999 -g -p "$pid" -o "$raw/perf.data" -- sleep "$seconds" 2>/dev/null) &
profiler=$!
load "$((seconds + 4))s"
wait "$profiler"
perf report -i "$raw/perf.data" --no-children --sort dso --stdio 2>/dev/null | grep -E '^ +[0-9]' >"$out/by-object.txt"
perf report -i "$raw/perf.data" --no-children --sort dso,sym --stdio -g none 2>/dev/null \
  | grep -E '^ +[0-9]' | sed -n 1,60p >"$out/by-symbol.txt"
perf script -i "$raw/perf.data" 2>/dev/null | python3 loadtest/fold_stacks.py >"$out/stacks.folded"
cat "$out/by-object.txt"
head -25 "$out/by-symbol.txt"
echo "== wrote $out/{syscalls,by-object,by-symbol}.txt and stacks.folded (inferno-flamegraph or flamegraph.pl draw it)"
