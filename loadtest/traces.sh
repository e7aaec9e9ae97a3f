#!/usr/bin/env bash
# What traces cost: GET /points?limit=100 and POST /point against three
# release hosts on one private PostGIS (10,000 points) — traces off (no
# OTEL_* variables), sampled at 1% (traceidratio 0.01) and always on —
# measured in interleaved rounds with wrk, the traced hosts exporting over
# OTLP/HTTP to a decoding stand-in collector (otlp-sink) on loopback.
# Writes loadtest/report/traces.csv (every round: req/s, p99, and CPU per
# request of the host and of the collector, which shares the 2 cores) and
# prints the medians.
#   make build && loadtest/traces.sh [seconds] [connections] [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
connections=${2:-32}
rounds=${3:-3}
command -v wrk >/dev/null || { echo "wrk missing: apt-get install wrk" >&2; exit 1; }

source loadtest/common.sh
target=${CARGO_TARGET_DIR:-target}
cargo build --release -p geofn-load --bin otlp-sink >/dev/null
work=$(mktemp -d /tmp/geofn-traces.XXXXXX)
chmod 755 "$work"
pids=()
trap 'kill ${pids[@]:-} $host 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
host=
start_dev_host "$work"
$psql -c "SELECT setseed(0.42);" \
      -c "INSERT INTO points (name, geom) SELECT 'point ' || g, ST_SetSRID(ST_MakePoint(random()*360-180, random()*180-90), 4326) FROM generate_series(1, 10000) g;" \
      -c "VACUUM ANALYZE points;" >/dev/null
pg_port=$(sed -n 4p "$work/data/pgdata/postmaster.pid")
database="postgresql://geofn:$PGPASSWORD@127.0.0.1:$pg_port/geofn"

sink_port=$(free_port)
"$target/release/otlp-sink" --listen "127.0.0.1:$sink_port" >"$work/sink.out" &
sink=$!
pids+=($sink)
wait_for "$work/sink.out"

declare -A ports pid_of
# Starts `geofn serve` as MODE on the dev host's database with extra
# environment; sets ports[MODE] and pid_of[MODE].
#   serve MODE VAR=VALUE...
serve() {
  local mode=$1 p
  shift
  p=$(free_port)
  env "$@" DATABASE_URL="$database" "$target/release/geofn" serve \
    --listen "127.0.0.1:$p" --handlers "$target/handlers" \
    >"$work/$mode.out" 2>"$work/$mode.log" &
  pids+=($!)
  pid_of[$mode]=$!
  ports[$mode]=$p
  wait_for "$work/$mode.out"
}
ports[off]=$port
pid_of[off]=$host
otlp="OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$sink_port"
serve ratio-0.01 "$otlp" OTEL_TRACES_SAMPLER=traceidratio OTEL_TRACES_SAMPLER_ARG=0.01
serve always-on "$otlp" OTEL_TRACES_SAMPLER=always_on

# One wrk run against MODE; prints "req/s,p99 ms,host µs CPU per
# request,collector µs CPU per request".
#   run MODE URL [WRK_ARGS...]
run() {
  local mode=$1 url=$2 host_before sink_before result rate
  shift 2
  host_before=$(ticks "${pid_of[$mode]}")
  sink_before=$(ticks "$sink")
  result=$(wrk_rate "$url" "$@")
  rate=${result%%,*}
  echo "$result,$(( ($(ticks "${pid_of[$mode]}") - host_before) * 10000 / (rate * seconds) )),$(( ($(ticks "$sink") - sink_before) * 10000 / (rate * seconds) ))"
}

csv=loadtest/report/traces.csv
echo "round,mode,request,req_per_s,p99_ms,host_cpu_us_per_req,collector_cpu_us_per_req" >"$csv"
for round in $(seq 1 "$rounds"); do
  for mode in off ratio-0.01 always-on; do
    url="http://127.0.0.1:${ports[$mode]}"
    echo "$round,$mode,GET /points?limit=100,$(run "$mode" "$url/points?limit=100")" | tee -a "$csv"
    echo "$round,$mode,POST /point,$(run "$mode" "$url" -s loadtest/wrk/post.lua)" | tee -a "$csv"
  done
done
sleep 6 # the last batch (OTEL_BSP_SCHEDULE_DELAY: 5 s)
echo "collector received: $(curl -s "http://127.0.0.1:$sink_port/stats")"
grep -h -i "opentelemetry\|dropped" "$work"/ratio-0.01.log "$work"/always-on.log | head -5 || true

python3 - "$csv" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
for request in ("GET /points?limit=100", "POST /point"):
    medians = {}
    for mode in ("off", "ratio-0.01", "always-on"):
        rates = [float(r["req_per_s"]) for r in rows if r["mode"] == mode and r["request"] == request]
        column = lambda name: statistics.median(
            float(r[name]) for r in rows if r["mode"] == mode and r["request"] == request)
        medians[mode] = (statistics.median(rates), column("p99_ms"),
                         column("host_cpu_us_per_req"), column("collector_cpu_us_per_req"))
    off = medians["off"][0]
    for mode, (rate, p99, host, sink) in medians.items():
        print(f"{request:22} {mode:10} {rate:6.0f} req/s {100 * (rate / off - 1):+6.1f}% vs off"
              f"  p99 {p99:5.1f} ms  host {host:4.0f} µs/req  collector {sink:3.0f} µs/req")
PY
