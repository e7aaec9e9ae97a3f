#!/usr/bin/env bash
# The guide's closed model past saturation, in one run over one private
# PostGIS: geofn with its admission queue (--queue-wait-ms, default 100),
# the same host failing fast (--queue-wait-ms 0, the previous behaviour)
# and the native axum baseline, each through the same user ramp (users
# arrive 500/s, think 1-2 s, GET /points three times as often as POST
# /point). All on 127.0.0.1; it stops what it started. About 10 minutes.
#
#   loadtest/overload.sh [FIRST LAST STEP]   # writes loadtest/report/overload.csv
set -euo pipefail
cd "$(dirname "$0")/.."
first=${1:-6000}
last=${2:-13000}
step=${3:-1000}
hold=${HOLD:-15s}
out=loadtest/report
raw=$(mktemp -d /tmp/geofn-overload.XXXXXX)
chmod 755 "$raw"

source loadtest/common.sh
build_release
ulimit -n "$(ulimit -Hn)"

queue_port=$(free_port); fast_port=$(free_port); native_port=$(free_port)
$target/release/geofn dev --listen 127.0.0.1:$queue_port --handlers "$target/handlers" \
  --data-dir "$raw/data" >"$raw/queue.out" 2>"$raw/queue.log" &
queue_pid=$!
trap 'kill $queue_pid ${fast_pid:-} ${native_pid:-} 2>/dev/null; wait 2>/dev/null; rm -rf "$raw"' EXIT
wait_for "$raw/queue.out"
pg_port=$(sed -n 4p "$raw/data/pgdata/postmaster.pid")
password=$(cat "$raw/data/password")
url="postgresql://geofn:$password@127.0.0.1:$pg_port/geofn"
PGPASSWORD=$password psql -q -h 127.0.0.1 -p "$pg_port" -U geofn geofn -c \
  "INSERT INTO points.points (name, geom) SELECT 'seed ' || g, ST_SetSRID(ST_MakePoint(random()*360-180, random()*180-90), 4326) FROM generate_series(1, 1000) g"
DATABASE_URL=$url $target/release/geofn serve --listen 127.0.0.1:$fast_port \
  --handlers "$target/handlers" --queue-wait-ms 0 >"$raw/fast.out" 2>"$raw/fast.log" &
fast_pid=$!
wait_for "$raw/fast.out"
DATABASE_URL=$url "$target/release/native-points" \
  --listen 127.0.0.1:$native_port >"$raw/native.out" 2>&1 &
native_pid=$!
wait_for "$raw/native.out"

ramp=$(seq -s, "$first" "$step" "$last")
for run in "queue $queue_port" "fast $fast_port" "native $native_port"; do
  set -- $run
  echo "== $1: users $ramp"
  "$load" closed --quiet --label "$1" --url "http://127.0.0.1:$2" --users "$ramp" \
    --spawn-rate 500 --hold "$hold" --out "$raw/$1" >>"$raw/runs.txt"
done

mkdir -p "$out"
{
  echo "users,queue_rps,queue_failures_per_s,queue_p95_ms,queue_p99_ms,fast_rps,fast_failures_per_s,fast_p95_ms,fast_p99_ms,native_rps,native_failures_per_s,native_p95_ms,native_p99_ms"
  paste -d, <(tail -n +2 "$raw/queue/steps.csv" | cut -d, -f1-3,5,6) \
    <(tail -n +2 "$raw/fast/steps.csv" | cut -d, -f2,3,5,6) \
    <(tail -n +2 "$raw/native/steps.csv" | cut -d, -f2,3,5,6)
} > "$out/overload.csv"
column -s, -t "$out/overload.csv"
# Most users held with p95 < 100 ms and no failure, by each.
awk -F, 'NR > 1 {
  if (!qd) { if ($3 == 0 && $4 < 100) q = $1; else qd = 1 }
  if (!fd) { if ($7 == 0 && $8 < 100) f = $1; else fd = 1 }
  if (!nd) { if ($11 == 0 && $12 < 100) n = $1; else nd = 1 }
} END { printf "held (p95 < 100 ms, no failure): queue %d, fail-fast %d, native %d users\n", q, f, n }' \
  "$out/overload.csv" | tee "$out/overload-held.txt"
echo "wrote $out/overload.csv"
