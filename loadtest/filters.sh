#!/usr/bin/env bash
# What a CQL2 filter costs an OGC API items page: req/s and p99 of
# /collections/points/items?limit=100 unfiltered against the same page
# filtered (CQL2 text and JSON: on the primary key, a spatial predicate,
# a name, a time) and against bbox, on one table of 1,000,000 points,
# rounds interleaved (every page once per round).
# Starts its own private PostGIS (geofn dev) in a temporary folder, drives
# the release host with wrk, then stops it all. Writes
# loadtest/report/filters.csv.
#   make build && loadtest/filters.sh [seconds] [connections] [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
connections=${2:-16}
rounds=${3:-2}
points=${POINTS:-1000000}
command -v wrk >/dev/null || { echo "wrk missing: apt-get install wrk" >&2; exit 1; }

source loadtest/common.sh
work=$(mktemp -d /tmp/geofn-filters.XXXXXX)
chmod 755 "$work"
trap 'kill $host 2>/dev/null; wait $host 2>/dev/null; rm -rf "$work"' EXIT
host=
start_dev_host "$work"
echo "loading $points points..."
$psql -c "SELECT setseed(0.42);" \
      -c "INSERT INTO points (name, geom) SELECT 'p' || g, ST_SetSRID(ST_MakePoint(random()*360-180, random()*170-85), 4326) FROM generate_series(1, $points) g;"
$psql -c "VACUUM ANALYZE points;"

# Query strings, percent-encoded by Python (CQL2 has spaces, quotes, parentheses).
encode() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }
items="/collections/points/items?limit=100"
declare -a labels pages
add() { labels+=("$1"); pages+=("$2"); }
add "unfiltered" "$items"
add "bbox=2,48,3,49" "$items&bbox=2,48,3,49"
add "cql2-text S_INTERSECTS(BBOX)" "$items&filter=$(encode 'S_INTERSECTS(geometry, BBOX(2, 48, 3, 49))')"
add "cql2-json s_intersects(bbox)" "$items&filter-lang=cql2-json&filter=$(encode '{"op":"s_intersects","args":[{"property":"geometry"},{"bbox":[2,48,3,49]}]}')"
add "cql2-text id range" "$items&filter=$(encode 'id > 500000 AND id <= 500500')"
add "cql2-text name =" "$items&filter=$(encode "name = 'p4242'")"
add "cql2-text name LIKE prefix" "$items&filter=$(encode "name LIKE 'p4242%'")"
add "cql2-text created_at after" "$items&filter=$(encode "created_at > TIMESTAMP('2000-01-01T00:00:00Z')")"
add "name= (queryable parameter)" "$items&name=p4242"

csv=loadtest/report/filters.csv
echo "round,page,req_per_s,p99_ms,number_returned,number_matched" >"$csv"
for i in "${!pages[@]}"; do  # every page answers 200 before anything is timed
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port${pages[$i]}")
  [[ $code == 200 ]] || { echo "${labels[$i]}: HTTP $code" >&2; curl -s "http://127.0.0.1:$port${pages[$i]}" >&2; exit 1; }
done
for round in $(seq 1 "$rounds"); do
  for i in "${!pages[@]}"; do
    counts=$(curl -s "http://127.0.0.1:$port${pages[$i]}" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(str(d.get("numberReturned", "-")) + "," + str(d.get("numberMatched", "-")))')
    echo "$round,\"${labels[$i]}\",$(wrk_rate "http://127.0.0.1:$port${pages[$i]}"),$counts" | tee -a "$csv"
  done
done

# The name filters again without the name index (points' migration 0003),
# as the table was before it: every such page reads the whole table.
$psql -c "DROP INDEX points_name_pattern; ANALYZE points;"
for i in "${!pages[@]}"; do
  [[ ${labels[$i]} == *name* ]] || continue
  counts=$(curl -s "http://127.0.0.1:$port${pages[$i]}" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(str(d.get("numberReturned", "-")) + "," + str(d.get("numberMatched", "-")))')
  echo "no name index,\"${labels[$i]}\",$(wrk_rate "http://127.0.0.1:$port${pages[$i]}"),$counts" | tee -a "$csv"
done
