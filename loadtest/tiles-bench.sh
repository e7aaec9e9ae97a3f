#!/usr/bin/env bash
# Vector tiles of 1,000,000 points: geofn's tiles handler against Martin
# (the PostGIS tile server), the same table, the same tile list, rounds
# interleaved (geofn, Martin, geofn, Martin...). Starts its own private
# PostGIS (geofn dev) in a temporary folder and stops it all at the end.
#   make build && cargo install martin --version 1.14.0 --locked
#   loadtest/tiles-bench.sh [seconds] [connections] [rounds]
# MARTIN names the binary (default: martin on PATH). Martin's tile cache is
# off, as geofn has none: both pay PostGIS for every tile.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
connections=${2:-16}
rounds=${3:-2}
points=${POINTS:-1000000}
martin=${MARTIN:-martin}
command -v wrk >/dev/null || { echo "wrk missing: apt-get install wrk" >&2; exit 1; }
command -v "$martin" >/dev/null || { echo "martin missing: cargo install martin --version 1.14.0 --locked" >&2; exit 1; }

source loadtest/common.sh
work=$(mktemp -d /tmp/geofn-tiles-bench.XXXXXX)
chmod 755 "$work"
martin_pid=
trap 'kill $host $martin_pid 2>/dev/null; wait $host $martin_pid 2>/dev/null; rm -rf "$work"' EXIT
host=
start_dev_host "$work"
echo "loading $points points..."
$psql -c "SELECT setseed(0.42);" \
      -c "INSERT INTO points (name, geom) SELECT 'p' || g, ST_SetSRID(ST_MakePoint(random()*360-180, random()*170-85), 4326) FROM generate_series(1, $points) g;"
$psql -c "VACUUM ANALYZE points;"

# The tile list: 2,000 tiles at zooms 6 to 14 around random points, as a
# map panning over the world asks for them (zooms below 6 read most of the
# table; see docs/performance.md).
python3 - "$work/tiles.txt" <<'PY'
import math, random, sys
random.seed(7)
with open(sys.argv[1], "w") as out:
    for _ in range(2000):
        z = random.randint(6, 14)
        lon, lat = random.uniform(-180, 180), random.uniform(-80, 80)
        n = 2 ** z
        x = int((lon + 180) / 360 * n)
        y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
        out.write(f"{z} {x} {y}\n")
PY

pg_port=$(sed -n 4p "$work/data/pgdata/postmaster.pid")
martin_port=$(free_port)
"$martin" --listen-addresses "127.0.0.1:$martin_port" --cache-size 0 \
  "postgres://geofn:$PGPASSWORD@127.0.0.1:$pg_port/geofn" >"$work/martin.log" 2>&1 &
martin_pid=$!
for _ in $(seq 1 60); do curl -fs "http://127.0.0.1:$martin_port/catalog" >/dev/null && break; sleep 0.5; done
curl -fs "http://127.0.0.1:$martin_port/catalog" | grep -q '"points"' || { cat "$work/martin.log"; exit 1; }

run() {  # LABEL BASE TEMPLATE
  local line
  line=$(wrk -t2 -c"$connections" -d"${seconds}s" --latency -s loadtest/wrk/tiles.lua "$2" -- "$work/tiles.txt" "$3" \
    | awk '/Requests\/sec/ {rps=$2} /Non-2xx/ {bad=$NF} / 99%/ {p=$2; if (p ~ /us$/) {sub(/us/,"",p); p/=1000} else if (p ~ /ms$/) {sub(/ms/,"",p)} else if (p ~ /s$/) {sub(/s/,"",p); p*=1000}} / 50%/ {m=$2; if (m ~ /us$/) {sub(/us/,"",m); m/=1000} else if (m ~ /ms$/) {sub(/ms/,"",m)} else if (m ~ /s$/) {sub(/s/,"",m); m*=1000}} END {printf "%d,%.2f,%.2f,%d", rps, m, p, bad}')
  echo "$1,$line"
}
mkdir -p loadtest/report
out=loadtest/report/tiles-vs-martin.csv
echo "server,round,tiles_per_s,p50_ms,p99_ms,non_2xx" >"$out"
for round in $(seq 1 "$rounds"); do
  echo "$(run geofn "http://127.0.0.1:$port" "/collections/points/tiles/WebMercatorQuad/{z}/{y}/{x}" | sed "s/,/,$round,/")" | tee -a "$out"
  echo "$(run martin "http://127.0.0.1:$martin_port" "/points/{z}/{x}/{y}" | sed "s/,/,$round,/")" | tee -a "$out"
done
