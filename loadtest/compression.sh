#!/usr/bin/env bash
# What compression buys and costs: bytes on the wire and req/s of a
# 300-point /points page and a 10,000-feature OGC API page, sent plain and
# as gzip, br and zstd (Accept-Encoding), on a table of 10,000 points.
# Starts its own private PostGIS (geofn dev) in a temporary folder, drives
# the release host with wrk, then stops it all. Writes
# loadtest/report/compression.csv.
#   make build && loadtest/compression.sh [seconds] [connections]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
connections=${2:-16}
command -v wrk >/dev/null || { echo "wrk missing: apt-get install wrk" >&2; exit 1; }

source loadtest/common.sh
work=$(mktemp -d /tmp/geofn-compression.XXXXXX)
chmod 755 "$work"
trap 'kill $host 2>/dev/null; wait $host 2>/dev/null; rm -rf "$work"' EXIT
host=
start_dev_host "$work"
$psql -c "SELECT setseed(0.42);" \
      -c "INSERT INTO points (name, geom) SELECT 'point ' || g, ST_SetSRID(ST_MakePoint(random()*360-180, random()*180-90), 4326) FROM generate_series(1, 10000) g;" \
      -c "VACUUM ANALYZE points;" >/dev/null

csv=loadtest/report/compression.csv
echo "page,encoding,bytes,req_per_s,p99_ms" >"$csv"
for page in "/points?limit=300" "/collections/points/items?limit=10000"; do
  for encoding in identity gzip br zstd; do
    bytes=$(curl -s -H "Accept-Encoding: $encoding" "http://127.0.0.1:$port$page" | wc -c)
    rate=$(wrk_rate "http://127.0.0.1:$port$page" -H "Accept-Encoding: $encoding")
    echo "\"$page\",$encoding,$bytes,$rate" | tee -a "$csv"
  done
done
