#!/usr/bin/env bash
# The points handler with a fresh instance per request (the default)
# against the same handler reusing its instances (reuse_requests), and the
# native axum baseline, side by side in one run over one private PostGIS:
# GET /points?limit=100 and POST /point, taking turns, round after round.
# All on 127.0.0.1; it stops what it started.
#
#   loadtest/reuse.sh            # writes loadtest/report/reuse.csv
set -euo pipefail
cd "$(dirname "$0")/.."
hold=${HOLD:-15s}
clients=${CLIENTS:-32}
rounds=${ROUNDS:-3}
out=loadtest/report
raw=$(mktemp -d /tmp/geofn-reuse.XXXXXX)
chmod 755 "$raw"

source loadtest/common.sh
build_release

mkdir -p "$raw/fresh" "$raw/reuse"
cp $target/handlers/* "$raw/fresh/"
cp $target/handlers/* "$raw/reuse/"
printf '\n[handlers.points.limits]\nreuse_requests = [1000, 10000]\n' >> "$raw/reuse/geofn.toml"
fresh_port=$(free_port); reuse_port=$(free_port); native_port=$(free_port)
$target/release/geofn dev --listen 127.0.0.1:$fresh_port --handlers "$raw/fresh" \
  --data-dir "$raw/data" >"$raw/fresh.out" 2>"$raw/fresh.log" &
fresh_pid=$!
trap 'kill $fresh_pid ${reuse_pid:-} ${native_pid:-} 2>/dev/null; wait 2>/dev/null; rm -rf "$raw"' EXIT
wait_for "$raw/fresh.out"
pg_port=$(sed -n 4p "$raw/data/pgdata/postmaster.pid")
password=$(cat "$raw/data/password")
url="postgresql://geofn:$password@127.0.0.1:$pg_port/geofn"
PGPASSWORD=$password psql -q -h 127.0.0.1 -p "$pg_port" -U geofn geofn -c \
  "INSERT INTO points.points (name, geom) SELECT 'seed ' || g, ST_SetSRID(ST_MakePoint(random()*360-180, random()*180-90), 4326) FROM generate_series(1, 1000) g"
DATABASE_URL=$url $target/release/geofn serve --listen 127.0.0.1:$reuse_port \
  --handlers "$raw/reuse" >"$raw/reuse.out" 2>"$raw/reuse.log" &
reuse_pid=$!
wait_for "$raw/reuse.out"
DATABASE_URL=$url "$target/release/native-points" \
  --listen 127.0.0.1:$native_port >"$raw/native.out" 2>&1 &
native_pid=$!
wait_for "$raw/native.out"

mkdir -p "$out"
echo "round,request,fresh_rps,fresh_p99_ms,fresh_host_us,reuse_rps,reuse_p99_ms,reuse_host_us,native_rps,native_p99_ms,native_host_us" \
  > "$out/reuse.csv"
echo "== $rounds rounds, $clients connections, no think time, $hold each"
for round in $(seq 1 "$rounds"); do
  for mix in get post; do
    a=$(measure "fresh-$mix-$round" "http://127.0.0.1:$fresh_port" "$mix" "/points?limit=100" "$fresh_pid")
    b=$(measure "reuse-$mix-$round" "http://127.0.0.1:$reuse_port" "$mix" "/points?limit=100" "$reuse_pid")
    c=$(measure "native-$mix-$round" "http://127.0.0.1:$native_port" "$mix" "/points?limit=100" "$native_pid")
    echo "$round,$mix,$a,$b,$c" | tee -a "$out/reuse.csv"
  done
done
echo "wrote $out/reuse.csv"
