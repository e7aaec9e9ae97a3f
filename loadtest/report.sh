#!/usr/bin/env bash
# Reproduces loadtest/REPORT.md and its charts on this machine, in one run:
# a private PostGIS (geofn dev), the geofn host with the shipped handlers and
# the empty one (a fresh instance per request), a second host on the same
# database whose points handler reuses its instances (reuse_requests), the
# native baseline, pgbench, the Rust load generator in closed and open
# models (native through the same user ramp), Locust with the guide's
# scenario, the criterion benchmark of instantiate + call, the swap-latency
# bench and the floor accounting (loadtest/floor.sh). Everything on 127.0.0.1; it stops what it
# started. About 35 minutes on 2 cores with the build warm, 50 cold.
#
#   loadtest/report.sh
set -euo pipefail
cd "$(dirname "$0")/.."
hold=${HOLD:-20s}
clients=${CLIENTS:-32}
rounds=${ROUNDS:-3}
out=loadtest/report
raw=$(mktemp -d /tmp/geofn-report.XXXXXX)
chmod 755 "$raw"

source loadtest/common.sh
build_release
command -v pgbench >/dev/null || { echo "pgbench missing (postgresql-client)" >&2; exit 1; }
if [[ ! -x $target/tools/locust/bin/locust ]]; then
  python3 -m venv $target/tools/locust
  $target/tools/locust/bin/pip install --quiet locust
fi
ulimit -n "$(ulimit -Hn)"

echo "== starting PostGIS, geofn, native baseline"
mkdir -p "$raw/handlers"
cp $target/handlers/* "$target/test-handlers/empty.wasm" "$raw/handlers/"
printf '\n[handlers.empty]\ncomponent = "empty.wasm"\nroutes = ["GET /empty"]\n' >> "$raw/handlers/geofn.toml"
mkdir -p "$raw/reuse"
cp "$target"/handlers/* "$raw/reuse/"
printf '\n[handlers.points.limits]\nreuse_requests = [1000, 10000]\n' >> "$raw/reuse/geofn.toml"
# The tiles handler keeps cell summaries of the points on a schedule (every
# 10 s). The runs below add about a million points, and merging them cost
# PostgreSQL 0.1-7 s a tick on these two cores, work the native server never
# does: retimed out of the measurement (it runs once at start-up).
for dir in "$raw/handlers" "$raw/reuse"; do
  printf '\n[handlers.tiles.schedules.cells]\nevery = "1h"\n' >> "$dir/geofn.toml"
done
geofn_port=$(free_port); native_port=$(free_port); reuse_port=$(free_port)
$target/release/geofn dev --listen 127.0.0.1:$geofn_port --handlers "$raw/handlers" \
  --data-dir "$raw/data" --no-cache >"$raw/geofn.out" 2>"$raw/geofn.log" &
geofn_pid=$!
trap 'kill $geofn_pid ${native_pid:-} ${reuse_pid:-} 2>/dev/null || true; wait 2>/dev/null; rm -rf "$raw"' EXIT
for _ in $(seq 1 120); do grep -q listening "$raw/geofn.out" && break; sleep 0.5; done
pg_port=$(sed -n 4p "$raw/data/pgdata/postmaster.pid")
export PGPASSWORD=$(cat "$raw/data/password") PGHOST=127.0.0.1 PGPORT=$pg_port PGUSER=geofn PGDATABASE=geofn
DATABASE_URL="postgresql://geofn:$PGPASSWORD@127.0.0.1:$pg_port/geofn" \
  "$target/release/native-points" --listen 127.0.0.1:$native_port >"$raw/native.out" 2>&1 &
native_pid=$!
for _ in $(seq 1 60); do grep -q listening "$raw/native.out" && break; sleep 0.5; done
DATABASE_URL="postgresql://geofn:$PGPASSWORD@127.0.0.1:$pg_port/geofn" \
  "$target/release/geofn" serve --listen 127.0.0.1:$reuse_port --handlers "$raw/reuse" \
  >"$raw/reuse.out" 2>"$raw/reuse.log" &
reuse_pid=$!
wait_for "$raw/reuse.out"
psql -q -c "INSERT INTO points.points (name, geom) SELECT 'seed ' || g, ST_SetSRID(ST_MakePoint(random()*360-180, random()*180-90), 4326) FROM generate_series(1, 1000) g"

# Other scripts' results (reuse.csv, traces.csv, the profiles' by-phase
# tables...): kept across a regeneration, unless this run writes its own.
mkdir -p "$raw/keep"
cp -r "$out"/. "$raw/keep/" 2>/dev/null || true
rm -rf "$out" && mkdir -p "$out"
geofn=http://127.0.0.1:$geofn_port
native=http://127.0.0.1:$native_port
reuse=http://127.0.0.1:$reuse_port
# CPU time of all PostgreSQL's processes (`ticks` of one: common.sh).
pg_ticks() { for pid in $(pgrep -x postgres); do ticks "$pid" 2>/dev/null || true; done | awk '{t += $1} END {print t + 0}'; }
saturate() { # label url mix get-path server-pid
  local host_before pg_before
  host_before=$(ticks "$5"); pg_before=$(pg_ticks)
  "$load" closed --quiet --label "$1" --url "$2" --mix "$3" --get-path "$4" \
    --users "$clients" --spawn-rate 10000 --think-min 0s --think-max 0s --hold "$hold" --out "$raw/$1" \
    | tee -a "$raw/runs.txt"
  echo "$1,$(( $(ticks "$5") - host_before )),$(( $(pg_ticks) - pg_before ))" >> "$raw/cpu.csv"
}
echo "label,server_ticks,postgres_ticks" > "$raw/cpu.csv"
echo "== side by side, $clients connections, no think time, $hold each, $rounds rounds"
# The machine's speed drifts over minutes (shared host): host and baseline
# take turns, round after round; the report shows each side's median round
# and takes ratios round by round.
for round in $(seq 1 "$rounds"); do
  for mix in get post; do
    saturate "geofn-$mix-r$round" "$geofn" $mix "/points?limit=100" "$geofn_pid"
    saturate "reuse-$mix-r$round" "$reuse" $mix "/points?limit=100" "$reuse_pid"
    saturate "native-$mix-r$round" "$native" $mix "/points?limit=100" "$native_pid"
  done
done
for label in geofn-get reuse-get native-get geofn-post reuse-post native-post; do
  median=$(for round in $(seq 1 "$rounds"); do
    echo "$(sed -n 2p "$raw/$label-r$round/steps.csv" | cut -d, -f2) $round"
  done | sort -n | sed -n "$(( (rounds + 1) / 2 ))p" | cut -d' ' -f2)
  cp -r "$raw/$label-r$median" "$raw/$label"
  sed -n "s/^$label-r$median,/$label,/p" "$raw/cpu.csv" >> "$raw/cpu.csv"
done
saturate geofn-empty "$geofn" get /empty "$geofn_pid"
# The same host route without wasm: what HTTP, tracing and metrics cost alone.
saturate geofn-livez "$geofn" get /livez "$geofn_pid"
seconds=${hold%s}
for script in select insert; do
  pgbench -n -M prepared -c "$clients" -j 2 -T "$seconds" -f "loadtest/pgbench/$script.sql" 2>&1 \
    | tee "$raw/pgbench-$script.txt" | grep -E "^tps|latency average" | tee -a "$raw/runs.txt"
done

echo "== the guide's scenario at up to 14,000 users (spawn 500/s, think 1-2 s), geofn then native"
ramp=$(seq -s, 1000 1000 14000)
"$load" closed --label users --url "$geofn" --users $ramp --spawn-rate 500 \
  --hold 15s --out "$raw/users" | tee -a "$raw/runs.txt"
"$load" closed --label native-users --url "$native" --users $ramp --spawn-rate 500 \
  --hold 15s --out "$raw/native-users" | tee -a "$raw/runs.txt"
echo "== open model, the guide's mix at fixed rates"
"$load" open --label rates --url "$geofn" --rates 1000,2000,3000,4000,5000,6000 --hold 15s \
  --out "$raw/rates" | tee -a "$raw/runs.txt"
echo "== Locust, the guide's own run: 300 users arriving 3 per second"
$target/tools/locust/bin/locust -f loadtest/locustfile.py --headless -u 300 -r 3 -t 150s \
  --host "$geofn" --csv "$raw/locust" --only-summary >"$raw/locust.txt" 2>&1 || true

echo "== criterion: instantiate + call of the empty handler"
cargo bench -p geofn --bench instantiate -- --noplot 2>&1 | tee "$raw/criterion.txt" | grep -E "time:" || true

# Stops the hosts first: the floor accounting and the swap bench start their own.
kill $geofn_pid $native_pid $reuse_pid 2>/dev/null; wait 2>/dev/null || true
echo "== swaps under load: cargo bench -p geofn --bench swap_latency"
{ cargo bench -p geofn --bench swap_latency 2>/dev/null || echo "swap_latency bench failed"; } | tee "$raw/swap-latency.txt"
cp "$raw"/users/curve.svg "$out/users-curve.svg"
cp "$raw"/users/timeline.svg "$out/users-timeline.svg"
cp "$raw"/rates/curve.svg "$out/rates-curve.svg"
cp "$raw"/geofn-get/timeline.svg "$out/geofn-get-timeline.svg"
for dir in "$raw"/*/; do
  name=$(basename "$dir")
  [[ -f "$dir/summary.csv" ]] && cp "$dir/summary.csv" "$out/$name-summary.csv"
  [[ -f "$dir/steps.csv" ]] && cp "$dir/steps.csv" "$out/$name-steps.csv"
done
cp "$raw"/pgbench-*.txt "$raw"/criterion.txt "$raw"/runs.txt "$raw"/cpu.csv "$raw"/swap-latency.txt "$out/"
cp "$raw"/locust_stats.csv "$out/locust-stats.csv" 2>/dev/null || true
cp -rn "$raw"/keep/. "$out/" 2>/dev/null || true
echo "== the floor, accounted for (loadtest/floor.sh)"
loadtest/floor.sh
python3 loadtest/make_report.py "$out" "$clients" "$hold" "$rounds" > loadtest/REPORT.md
echo "== wrote loadtest/REPORT.md"
