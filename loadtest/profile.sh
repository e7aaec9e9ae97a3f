#!/usr/bin/env bash
# Where a geofn host spends its time under load: saturates one route with the
# Rust load generator and records, on the host process only,
#   - system calls per request (strace -c, a few seconds),
#   - a CPU profile with call graphs (perf record -g), reported by shared
#     object, by symbol, by phase of a request in µs of the host's CPU per
#     request (loadtest/profile_phases.py), and as folded stacks for a
#     flamegraph tool.
# OTEL_* variables in the environment reach the host (profile tracing on).
# The host is built with frame pointers and line tables into its own target
# folder, so the release build stays as it is. Everything on 127.0.0.1.
#
#   loadtest/profile.sh ["/points?limit=100" | post | /empty | /livez] [seconds]
#   NATIVE=1 loadtest/profile.sh ...   # the native baseline instead, same database
#   PYTHON=1 loadtest/profile.sh ...   # the points API in Python (max_concurrency 8,
#                                      # as loadtest/python.sh runs it)
#   AT=7b76ac1 loadtest/profile.sh ... # the host and handlers of that commit (a
#                                      # worktree of their own in /tmp), with this
#                                      # tree's load generator and classifier: the
#                                      # "before" of a before-and-after accounting
#
# `post` profiles `POST /point` with random points, as the load report sends them.
# The tiles handler's summary schedule is retimed out of the run, as in
# loadtest/report.sh: the native server does no such work.
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
target=${CARGO_TARGET_DIR:-target}
profiled=/tmp/geofn-profile-target
profiled_build() {
  CARGO_TARGET_DIR=$profiled CARGO_PROFILE_RELEASE_DEBUG=line-tables-only \
    RUSTFLAGS="-C force-frame-pointers=yes" cargo build --release "$@" >/dev/null
}
built=$target
if [[ -n ${AT:-} ]]; then
  tree=/tmp/geofn-at-$AT
  [[ -d $tree ]] || git worktree add -f --detach "$tree" "$AT" >/dev/null
  profiled=/tmp/geofn-profile-target-$AT built=/tmp/geofn-profile-target-$AT
  (cd "$tree" && CARGO_TARGET_DIR=$profiled make handlers >/dev/null && profiled_build -p geofn)
else
  profiled_build -p geofn -p geofn-load
fi

cp -r "$built/handlers" "$raw/handlers"
# The do-nothing handler, as loadtest/report.sh serves it: the floor.
cp "$built/test-handlers/empty.wasm" "$raw/handlers/"
printf '\n[handlers.empty]\ncomponent = "empty.wasm"\nroutes = ["GET /empty"]\n' >>"$raw/handlers/geofn.toml"
if grep -q '^\[handlers.tiles\]' "$raw/handlers/geofn.toml"; then
  printf '\n[handlers.tiles.schedules.cells]\nevery = "1h"\n' >>"$raw/handlers/geofn.toml"
fi
if [[ -n ${PYTHON:-} ]]; then
  make python-handlers >/dev/null
  cp "$target/python-handlers/points.wasm" "$raw/handlers/points.wasm"
  printf '\n[handlers.points.limits]\nmax_concurrency = 8\n' >>"$raw/handlers/geofn.toml"
fi
"$profiled/release/geofn" dev --perf-map --listen 127.0.0.1:0 --handlers "$raw/handlers" \
  --data-dir "$raw/data" --no-cache >"$raw/geofn.out" 2>"$raw/geofn.log" &
pid=$! host=$!
trap 'kill $host ${native:-} 2>/dev/null; wait 2>/dev/null; rm -rf "$raw"' EXIT
for _ in $(seq 1 120); do grep -q listening "$raw/geofn.out" && break; sleep 0.5; done
url=$(sed -n 's/^geofn listening on //p' "$raw/geofn.out")
pg_port=$(sed -n 4p "$raw/data/pgdata/postmaster.pid")
if [[ -n ${NATIVE:-} ]]; then
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  DATABASE_URL="postgresql://geofn:$(cat "$raw/data/password")@127.0.0.1:$pg_port/geofn" \
    "$profiled/release/native-points" --listen "127.0.0.1:$port" >"$raw/native.out" 2>&1 &
  native=$! pid=$!
  for _ in $(seq 1 60); do grep -q listening "$raw/native.out" && break; sleep 0.5; done
  url=http://127.0.0.1:$port
fi
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
# The host's CPU per request over the same run (utime + stime, 100 ticks/s).
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
before=$(ticks "$pid")
summary=$(load "$((seconds + 4))s")
echo "$summary"
rate=$(sed -n 's/.*: *\([0-9.]*\) ok\/s.*/\1/p' <<<"$summary")
us_per_request=$(awk -v t="$(( $(ticks "$pid") - before ))" -v r="${rate:-1}" -v s="$((seconds + 4))" \
  'BEGIN { printf "%.0f", t * 10000 / (r * s) }')
wait "$profiler"
perf report -i "$raw/perf.data" --no-children --sort dso --stdio 2>/dev/null | grep -E '^ +[0-9]' >"$out/by-object.txt"
perf report -i "$raw/perf.data" --no-children --sort dso,sym --stdio -g none 2>/dev/null \
  | grep -E '^ +[0-9]' | sed -n 1,60p >"$out/by-symbol.txt"
perf script -i "$raw/perf.data" 2>/dev/null | python3 loadtest/fold_stacks.py >"$out/stacks.folded"
python3 loadtest/profile_phases.py "$out/stacks.folded" "$us_per_request" >"$out/by-phase.txt"
cat "$out/by-object.txt"
head -25 "$out/by-symbol.txt"
echo "== host CPU per request: $us_per_request µs, by phase"
cat "$out/by-phase.txt"
echo "== wrote $out/{syscalls,by-object,by-symbol,by-phase}.txt and stacks.folded (inferno-flamegraph or flamegraph.pl draw it)"
