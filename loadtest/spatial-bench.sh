#!/usr/bin/env bash
# bbox and near queries on 1,000,000 points: req/s and latency percentiles.
# Starts its own private PostGIS (geofn dev) in a temporary folder, loads
# the points with SQL, drives the release host with wrk, then stops it all.
#   make build && loadtest/spatial-bench.sh [seconds] [connections]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
connections=${2:-32}
points=1000000
command -v wrk >/dev/null || { echo "wrk missing: apt-get install wrk" >&2; exit 1; }

source loadtest/common.sh
work=$(mktemp -d /tmp/geofn-spatial-bench.XXXXXX)
chmod 755 "$work"
trap 'kill $host 2>/dev/null; wait $host 2>/dev/null; rm -rf "$work"' EXIT
host=
start_dev_host "$work"
echo "loading $points points..."
$psql -c "DROP INDEX points_geom_gist; DROP INDEX points_geog_gist; SELECT setseed(0.42);" \
      -c "INSERT INTO points (name, geom) SELECT 'p' || g, ST_SetSRID(ST_MakePoint(random()*360-180, random()*180-90), 4326) FROM generate_series(1, $points) g;" \
      -c "CREATE INDEX points_geom_gist ON points USING gist (geom);" \
      -c "CREATE INDEX points_geog_gist ON points USING gist ((geom::geography));"
$psql -c "VACUUM ANALYZE points;"

for scenario in bbox near; do
  echo "== $scenario: ${seconds}s, $connections connections, 2 wrk threads"
  wrk -t2 -c"$connections" -d"${seconds}s" --latency -s "loadtest/wrk/$scenario.lua" "http://127.0.0.1:$port" \
    | grep -E "Requests/sec|Latency|50%|90%|99%|Non-2xx|Socket errors"
done
