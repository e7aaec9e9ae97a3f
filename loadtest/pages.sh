#!/usr/bin/env bash
# What an OGC API items page costs as the table grows: req/s and p99 of
# /collections/points/items?limit=100 against /points?limit=100 on the same
# table at 10,000, 1,000,000 and 10,000,000 rows (and a second page, and
# two bbox pages, each).
# Starts its own private PostGIS (geofn dev) in a temporary folder, grows
# the table with SQL between sizes, drives the release host with wrk, then
# stops it all. Writes loadtest/report/pages.csv.
#   make build && loadtest/pages.sh [seconds] [connections]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
connections=${2:-32}
command -v wrk >/dev/null || { echo "wrk missing: apt-get install wrk" >&2; exit 1; }

source loadtest/common.sh
work=$(mktemp -d /tmp/geofn-pages.XXXXXX)
chmod 755 "$work"
trap 'kill $host 2>/dev/null; wait $host 2>/dev/null; rm -rf "$work"' EXIT
host=
start_dev_host "$work"

# Grows the table to $1 rows: random points over the world, indexes
# rebuilt once after the load, statistics fresh.
grow_to() {
  local have
  have=$($psql -Atc "SELECT count(*) FROM points")
  echo "== growing the table from $have to $1 rows"
  $psql -c "DROP INDEX points_geom_gist; DROP INDEX points_geog_gist; SELECT setseed(0.42);" \
        -c "INSERT INTO points (name, geom) SELECT 'p' || g, ST_SetSRID(ST_MakePoint(random()*360-180, random()*180-90), 4326) FROM generate_series($have + 1, $1) g;" \
        -c "CREATE INDEX points_geom_gist ON points USING gist (geom);" \
        -c "CREATE INDEX points_geog_gist ON points USING gist ((geom::geography));"
  $psql -c "VACUUM ANALYZE points;"
}

csv=loadtest/report/pages.csv
echo "rows,page,req_per_s,p99_ms,number_matched" >"$csv"
box="bbox=2,48,3,49"
for rows in 10000 1000000 10000000; do
  grow_to $rows
  # The second items page (its cursor from the first page's next link)
  # counts nothing: the listing and its GeoJSON alone.
  second=$(curl -s "http://127.0.0.1:$port/collections/points/items?limit=100" | python3 -c '
import json, sys, urllib.parse
link = next(l["href"] for l in json.load(sys.stdin)["links"] if l["rel"] == "next")
print(urllib.parse.urlsplit(link)._replace(scheme="", netloc="").geturl())')
  for page in "/points?limit=100" "/collections/points/items?limit=100" "$second" \
              "/collections/points/items?limit=100&$box" "/collections/points/items?limit=100&bbox=-10,35,30,60"; do
    matched=$(curl -s "http://127.0.0.1:$port$page" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get("numberMatched","-") if isinstance(d,dict) else "-")')
    line="$rows,\"$page\",$(wrk_rate "http://127.0.0.1:$port$page"),$matched"
    echo "$line" | tee -a "$csv"
  done
done
