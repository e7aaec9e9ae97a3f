#!/usr/bin/env bash
# What resetting every page of an instance slot costs against resetting
# only the pages a request wrote (PAGEMAP_SCAN), side by side in one run:
# two release hosts over one private PostGIS, one --memory-reset scan, one
# --memory-reset full, taking turns under the Rust load generator on
# GET /empty (a handler that does nothing) and GET /points?limit=100.
# All on 127.0.0.1; it stops what it started.
#
#   loadtest/memory-reset.sh            # writes loadtest/report/memory-reset.csv
set -euo pipefail
cd "$(dirname "$0")/.."
hold=${HOLD:-15s}
clients=${CLIENTS:-32}
rounds=${ROUNDS:-3}
out=loadtest/report
raw=$(mktemp -d /tmp/geofn-memory-reset.XXXXXX)
chmod 755 "$raw"

source loadtest/common.sh
build_release

mkdir -p "$raw/handlers"
cp $target/handlers/* "$target/test-handlers/empty.wasm" "$raw/handlers/"
printf '\n[handlers.empty]\ncomponent = "empty.wasm"\nroutes = ["GET /empty"]\n' >> "$raw/handlers/geofn.toml"
scan_port=$(free_port); full_port=$(free_port)
$target/release/geofn dev --listen 127.0.0.1:$scan_port --handlers "$raw/handlers" \
  --data-dir "$raw/data" --memory-reset scan >"$raw/scan.out" 2>"$raw/scan.log" &
scan_pid=$!
trap 'kill $scan_pid ${full_pid:-} 2>/dev/null; wait 2>/dev/null; rm -rf "$raw"' EXIT
wait_for "$raw/scan.out"
pg_port=$(sed -n 4p "$raw/data/pgdata/postmaster.pid")
password=$(cat "$raw/data/password")
PGPASSWORD=$password psql -q -h 127.0.0.1 -p "$pg_port" -U geofn geofn -c \
  "INSERT INTO points.points (name, geom) SELECT 'seed ' || g, ST_SetSRID(ST_MakePoint(random()*360-180, random()*180-90), 4326) FROM generate_series(1, 1000) g"
DATABASE_URL="postgresql://geofn:$password@127.0.0.1:$pg_port/geofn" \
  $target/release/geofn serve --listen 127.0.0.1:$full_port --handlers "$raw/handlers" \
  --memory-reset full >"$raw/full.out" 2>"$raw/full.log" &
full_pid=$!
wait_for "$raw/full.out"

mkdir -p "$out"
echo "round,path,scan_rps,scan_p99_ms,scan_host_us,full_rps,full_p99_ms,full_host_us" \
  > "$out/memory-reset.csv"
echo "== $rounds rounds, $clients connections, no think time, $hold each"
for round in $(seq 1 "$rounds"); do
  for path in /empty "/points?limit=100"; do
    a=$(measure "scan-$round" "http://127.0.0.1:$scan_port" get "$path" "$scan_pid")
    b=$(measure "full-$round" "http://127.0.0.1:$full_port" get "$path" "$full_pid")
    echo "$round,$path,$a,$b" | tee -a "$out/memory-reset.csv"
  done
done
echo "wrote $out/memory-reset.csv"
