#!/usr/bin/env bash
# Two builds of the host, side by side at the same time: each serves the
# shipped handlers from its own `geofn dev` PostGIS (1,000 seeded points),
# and they take turns under the same closed-model load, round after round,
# so a change is measured against the code before it on the same machine in
# the same minutes (load on shared cores drifts by more than most changes).
# Prints req/s and the host's CPU per request (utime + stime from /proc)
# for each round. Everything on 127.0.0.1; it stops what it started.
#
#   loadtest/ab.sh BINARY_A BINARY_B ["/points?limit=100" | post] [seconds] [rounds]
#   PYTHON=1 loadtest/ab.sh ...   # the points API in Python (max_concurrency 8)
#   B_COMPONENTS=DIR loadtest/ab.sh BINARY BINARY ...   # side B serves DIR's
#       components in place of the shipped ones of the same name (one host
#       build, two builds of a handler)
#
# Build the "before" binary from a worktree of the older commit, e.g.
#   git worktree add /tmp/before HEAD~1 && (cd /tmp/before && cargo build --release -p geofn)
set -euo pipefail
cd "$(dirname "$0")/.."
a=$(realpath "$1") b=$(realpath "$2")
path=${3:-/points?limit=100}
seconds=${4:-10}
rounds=${5:-3}
mix=get
if [[ $path == post ]]; then
  mix=post path="POST /point"
fi
target=${CARGO_TARGET_DIR:-target}
raw=$(mktemp -d /tmp/geofn-ab.XXXXXX)
chmod 755 "$raw"

make handlers >/dev/null
cargo build --release -p geofn-load >/dev/null
cp -r "$target/handlers" "$raw/handlers"
printf '\n[handlers.tiles.schedules.cells]\nevery = "1h"\n' >>"$raw/handlers/geofn.toml"
if [[ -n ${PYTHON:-} ]]; then
  make python-handlers >/dev/null
  cp "$target/python-handlers/points.wasm" "$raw/handlers/points.wasm"
  printf '\n[handlers.points.limits]\nmax_concurrency = 8\n' >>"$raw/handlers/geofn.toml"
fi

cp -r "$raw/handlers" "$raw/handlers-B"
if [[ -n ${B_COMPONENTS:-} ]]; then
  for component in "$B_COMPONENTS"/*.wasm; do
    [[ -e $raw/handlers-B/$(basename "$component") ]] && cp "$component" "$raw/handlers-B/"
  done
fi

pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$raw"' EXIT
declare -A url pid
for side in A B; do
  binary=$a handlers=$raw/handlers
  [[ $side == B ]] && binary=$b handlers=$raw/handlers-B
  "$binary" dev --listen 127.0.0.1:0 --handlers "$handlers" --data-dir "$raw/data-$side" \
    --no-cache >"$raw/$side.out" 2>"$raw/$side.log" &
  pid[$side]=$!
  pids+=($!)
done
for side in A B; do
  for _ in $(seq 1 240); do grep -q listening "$raw/$side.out" && break; sleep 0.5; done
  url[$side]=$(sed -n 's/^geofn listening on //p' "$raw/$side.out")
  [[ -n ${url[$side]} ]] || { cat "$raw/$side.log" >&2; exit 1; }
  pg_port=$(sed -n 4p "$raw/data-$side/pgdata/postmaster.pid")
  PGPASSWORD=$(cat "$raw/data-$side/password") psql -q -h 127.0.0.1 -p "$pg_port" -U geofn geofn -c \
    "INSERT INTO points.points (name, geom) SELECT 'seed ' || g, ST_SetSRID(ST_MakePoint(random()*360-180, random()*180-90), 4326) FROM generate_series(1, 1000) g"
done

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
echo "A = $a"
echo "B = $b"
echo "round,side,req_per_s,host_us_per_req,p99_ms"
for round in $(seq 1 "$rounds"); do
  for side in A B; do
    before=$(ticks "${pid[$side]}")
    summary=$("$target/release/geofn-load" closed --quiet --label ab --url "${url[$side]}" --mix "$mix" \
      --get-path "$path" --users 64 --spawn-rate 10000 --think-min 0s --think-max 0s \
      --hold "${seconds}s" --out "$raw/load" | tail -1)
    rate=$(sed -n 's/.*: *\([0-9.]*\) ok\/s.*/\1/p' <<<"$summary")
    p99=$(sed -n 's/.*p99 \([0-9.]*\) ms.*/\1/p' <<<"$summary")
    us=$(awk -v t="$(( $(ticks "${pid[$side]}") - before ))" -v r="${rate:-1}" -v s="$seconds" \
      'BEGIN { printf "%.0f", t * 10000 / (r * s) }')
    echo "$round,$side,$rate,$us,$p99"
  done
done
