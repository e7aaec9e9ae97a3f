#!/usr/bin/env bash
# What an outbound call costs: the probe handler (release host) answering
# GET .../echo (no call) and GET .../fetch?url=U (one wasi:http call to a
# loopback nginx answering 27 bytes) — with the host's connection pool
# (default) and without (--outbound-idle-per-host 0: a new TCP connection
# per call) — in interleaved wrk rounds. Host CPU per request comes from
# /proc; a call's own cost is fetch minus echo. Writes
# loadtest/report/outbound.csv and prints the medians.
#   make build handlers && loadtest/outbound.sh [seconds] [connections] [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
connections=${2:-16}
rounds=${3:-3}
command -v wrk >/dev/null || { echo "wrk missing: apt-get install wrk" >&2; exit 1; }
command -v nginx >/dev/null || { echo "nginx missing: apt-get install nginx" >&2; exit 1; }

source loadtest/common.sh
target=${CARGO_TARGET_DIR:-target}
work=$(mktemp -d /tmp/geofn-outbound.XXXXXX)
chmod 755 "$work"
pids=()
trap 'kill ${pids[@]:-} $host 2>/dev/null; [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
host=
start_dev_host "$work"
pg_port=$(sed -n 4p "$work/data/pgdata/postmaster.pid")
database="postgresql://geofn:$PGPASSWORD@127.0.0.1:$pg_port/geofn"

# The upstream: nginx, one worker, keep-alive on, a fixed answer.
up_port=$(free_port)
cat >"$work/nginx.conf" <<CONF
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_requests 100000;
  server {
    listen 127.0.0.1:$up_port;
    location / { default_type application/json; return 200 '{"type":"FeatureCollection"}'; }
  }
}
CONF
nginx -c "$work/nginx.conf" -p "$work" -e "$work/nginx-error.log"

mkdir -p "$work/handlers"
cp "$target/test-handlers/probe-v1.wasm" "$work/handlers/probe.wasm"
cat >"$work/handlers/geofn.toml" <<TOML
[handlers.probe]
component = "probe.wasm"
routes = ["GET /probe/{action}"]
[handlers.probe.outbound]
allowed_hosts = ["http://127.0.0.1:$up_port"]
TOML

declare -A ports pid_of
serve() {
  local mode=$1 p
  shift
  p=$(free_port)
  DATABASE_URL="$database" "$target/release/geofn" serve "$@" \
    --listen "127.0.0.1:$p" --handlers "$work/handlers" \
    >"$work/$mode.out" 2>"$work/$mode.log" &
  pids+=($!)
  pid_of[$mode]=$!
  ports[$mode]=$p
  wait_for "$work/$mode.out"
}
serve pooled
serve unpooled --outbound-idle-per-host 0

run() {
  local mode=$1 url=$2 before result rate
  before=$(ticks "${pid_of[$mode]}")
  result=$(wrk_rate "$url")
  rate=${result%%,*}
  echo "$result,$(( ($(ticks "${pid_of[$mode]}") - before) * 10000 / (rate * seconds) ))"
}

csv=loadtest/report/outbound.csv
fetch="fetch?url=http%3A%2F%2F127.0.0.1%3A$up_port%2Fx"
echo "round,mode,request,req_per_s,p99_ms,host_cpu_us_per_req" >"$csv"
for round in $(seq 1 "$rounds"); do
  for mode in pooled unpooled; do
    url="http://127.0.0.1:${ports[$mode]}/probe"
    echo "$round,$mode,echo,$(run "$mode" "$url/echo")" | tee -a "$csv"
    echo "$round,$mode,fetch,$(run "$mode" "$url/$fetch")" | tee -a "$csv"
  done
done

python3 - "$csv" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
def med(mode, request, column):
    return statistics.median(float(r[column]) for r in rows if r["mode"] == mode and r["request"] == request)
for mode in ("pooled", "unpooled"):
    echo, fetch = med(mode, "echo", "host_cpu_us_per_req"), med(mode, "fetch", "host_cpu_us_per_req")
    print(f"{mode:9} echo {med(mode, 'echo', 'req_per_s'):6.0f} req/s {echo:4.0f} µs/req   "
          f"fetch {med(mode, 'fetch', 'req_per_s'):6.0f} req/s {fetch:4.0f} µs/req  "
          f"p99 {med(mode, 'fetch', 'p99_ms'):5.1f} ms   the call: {fetch - echo:4.0f} µs of host CPU")
PY
