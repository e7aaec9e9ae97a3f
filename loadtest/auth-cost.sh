#!/usr/bin/env bash
# What a bearer token costs end to end: the release host on a private
# PostGIS, `GET /regions?contains=5,5` (a row-level-security query of the
# regions handler) driven by wrk with and without the same valid token,
# rounds taking turns; host and PostgreSQL CPU per request from /proc.
#   make build && loadtest/auth-cost.sh [seconds] [connections] [rounds]
# Writes loadtest/report/auth-cost.csv.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-15}
connections=${2:-32}
rounds=${3:-3}
command -v wrk >/dev/null || { echo "wrk missing: apt-get install wrk" >&2; exit 1; }
source loadtest/common.sh
target=${CARGO_TARGET_DIR:-target}
cargo build --release -q -p geofn-test-issuer --example issue

work=$(mktemp -d /tmp/geofn-auth-cost.XXXXXX)
chmod 755 "$work"
"$target/release/examples/issue" "$work/issuer" alice "regions:read" https://issuer.test geofn >/dev/null
token=$(cat "$work/issuer/token")
port=$(free_port)
"$target/release/geofn" dev --listen "127.0.0.1:$port" --handlers "$target/handlers" \
  --data-dir "$work/data" --auth-jwks-file "$work/issuer/jwks.json" \
  --auth-issuer https://issuer.test --auth-audience geofn >"$work/stdout" 2>"$work/log" &
host=$!
trap 'kill $host 2>/dev/null; wait $host 2>/dev/null; rm -rf "$work"' EXIT
wait_for "$work/stdout"
curl -sf -X POST "http://127.0.0.1:$port/regions" -H 'Content-Type: application/json' \
  -d '{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[0,0],[10,0],[10,10],[0,10],[0,0]]]},"properties":{"name":"square"}}' \
  >/dev/null
# Every PostgreSQL process of the machine: run it where no other is busy.
postgres_ticks() { for pid in $(pgrep -x postgres); do ticks "$pid" 2>/dev/null || true; done |
  awk '{t += $1} END {print t + 0}'; }
url="http://127.0.0.1:$port/regions?contains=5,5"
mkdir -p loadtest/report
out=loadtest/report/auth-cost.csv
echo "round,caller,req_per_s,p99_ms,host_us_per_req,postgres_us_per_req" >"$out"
tick_us=$(( 1000000 / $(getconf CLK_TCK) ))
for round in $(seq 1 "$rounds"); do
  for caller in anonymous token; do
    header=()
    [[ $caller == token ]] && header=(-H "Authorization: Bearer $token")
    host_before=$(ticks "$host"); pg_before=$(postgres_ticks)
    result=$(wrk -t2 -c"$connections" -d"${seconds}s" --latency "${header[@]}" "$url")
    host_after=$(ticks "$host"); pg_after=$(postgres_ticks)
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$result")
    p99=$(awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub("us","",v); v/=1000} else if (v ~ /ms$/) {sub("ms","",v)} else if (v ~ /s$/) {sub("s","",v); v*=1000}; print v}' <<<"$result")
    non2xx=$(awk '/Non-2xx/ {print $4}' <<<"$result")
    [[ -n $non2xx ]] && { echo "$caller: $non2xx answers were not 2xx" >&2; exit 1; }
    requests=$(awk -v r="$rps" -v s="$seconds" 'BEGIN {printf "%d", r * s}')
    host_us=$(( (host_after - host_before) * tick_us / requests ))
    pg_us=$(( (pg_after - pg_before) * tick_us / requests ))
    echo "$round,$caller,$rps,$p99,$host_us,$pg_us" | tee -a "$out"
  done
done
