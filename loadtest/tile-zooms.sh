#!/usr/bin/env bash
# What a map at world zoom costs with a million points: every tile of
# zooms 0-3 and 64 tiles each of zooms 4 and 5, one at a time, first with
# every point read from the table (the cell summaries not built yet), then
# from the tiles handler's cell summaries once its schedule has built them;
# each time also the map page in headless Chromium (loadtest/map-views.mjs,
# when `make test-deps` has installed playwright-core): the world view,
# then zooms 2 to 5 over Europe, each timed until drawn.
# Starts its own private PostGIS (geofn dev) in a temporary folder.
#   make build && loadtest/tile-zooms.sh [points] [passes]
# Writes loadtest/report/tile-zooms.csv and map-views.csv.
set -euo pipefail
cd "$(dirname "$0")/.."
points=${1:-1000000}
passes=${2:-3}

source loadtest/common.sh
work=$(mktemp -d /tmp/geofn-tile-zooms.XXXXXX)
chmod 755 "$work"
host=
trap 'kill $host 2>/dev/null; wait $host 2>/dev/null; rm -rf "$work"' EXIT
target=${CARGO_TARGET_DIR:-target}
# The shipped handlers, the summaries' schedule first due in an hour.
cp -r "$target/handlers" "$work/handlers"
cp "$work/handlers/geofn.toml" "$work/geofn.toml.shipped"
printf '\n[handlers.tiles.schedules.cells]\nevery = "1h"\n' >>"$work/handlers/geofn.toml"
start_dev_host "$work" "$work/handlers"

case $target in /*) tools=$target/tools ;; *) tools=$PWD/$target/tools ;; esac
playwright=$tools/node/node_modules/playwright-core/index.mjs
views_out=loadtest/report/map-views.csv
mkdir -p loadtest/report
echo "source,view,zoom,ms,tiles,tile_bytes" >"$views_out"
views() {  # LABEL
  if [ -f "$playwright" ] && command -v node >/dev/null && command -v chromium >/dev/null; then
    PLAYWRIGHT_CORE=$playwright node loadtest/map-views.mjs "http://127.0.0.1:$port" "$1" | tee -a "$views_out"
  else
    echo "no playwright-core or chromium (make test-deps): map views not measured"
  fi
}

# The browser's own cost, for the accounting: the same views, no points.
views none

echo "loading $points points..."
$psql -c "SELECT setseed(0.42);" \
      -c "INSERT INTO points.points (name, geom) SELECT 'p' || g, ST_SetSRID(ST_MakePoint(random()*360-180, random()*170-85), 4326) FROM generate_series(1, $points) g;" \
      -c "VACUUM ANALYZE points.points;"

measure() {  # LABEL
  python3 - "$port" "$passes" "$1" <<'PY'
import http.client, random, statistics, sys, time
port, passes, label = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
random.seed(7)
tiles = {z: [(z, y, x) for y in range(2**z) for x in range(2**z)] for z in range(4)}
for z in (4, 5):
    tiles[z] = [(z, random.randrange(2**z), random.randrange(2**z)) for _ in range(64)]
conn = http.client.HTTPConnection("127.0.0.1", port)
for z, some in tiles.items():
    took, size = [], 0
    for _ in range(passes):
        for (tz, y, x) in some:
            started = time.perf_counter()
            conn.request("GET", f"/collections/points/tiles/WebMercatorQuad/{tz}/{y}/{x}")
            response = conn.getresponse()
            body = response.read()
            took.append((time.perf_counter() - started) * 1e3)
            assert response.status in (200, 204), response.status
            size = max(size, len(body))
    took.sort()
    p99 = took[min(len(took) - 1, int(len(took) * 0.99))]
    print(f"{label},{z},{len(some)},{statistics.median(took):.1f},{p99:.1f},{took[-1]:.1f},{size}")
PY
}

out=loadtest/report/tile-zooms.csv
mkdir -p loadtest/report
echo "source,zoom,tiles,median_ms,p99_ms,max_ms,largest_bytes" >"$out"
measure points | tee -a "$out"
views points

# The schedule back to the shipped period: due at once, it builds the cells.
started=$(date +%s.%N)
cp "$work/geofn.toml.shipped" "$work/handlers/.geofn.toml.new"
mv "$work/handlers/.geofn.toml.new" "$work/handlers/geofn.toml"
for _ in $(seq 1 600); do
  built=$($psql -At -c "SELECT points FROM tiles.point_cells_state" 2>/dev/null || true)
  [ "$built" = "$points" ] && break
  sleep 0.5
done
[ "$built" = "$points" ] || { echo "the cells were never built" >&2; tail "$work/log" >&2; exit 1; }
echo "cells built $(awk "BEGIN {printf \"%.1f\", $(date +%s.%N) - $started}") s after the schedule was switched on;" \
  "$(grep -o 'schedule=cells status=200 took_ms=[0-9.]*' "$work/log" | head -1)"
$psql -At -c "SELECT 'cells per zoom: ' || string_agg(z || ':' || n, ' ' ORDER BY z) FROM (SELECT z, count(*) AS n FROM tiles.point_cells GROUP BY z) AS c"
measure cells | tee -a "$out"
views cells
