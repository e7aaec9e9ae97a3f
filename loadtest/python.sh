#!/usr/bin/env bash
# The points API in Python, measured against the stack its users run today:
# the Python handler with a fresh instance per request (the default), the
# same handler reusing its instances (reuse_requests), and the guide's
# Flask app (Flask + psycopg2 under gunicorn, 4 workers x 4 threads,
# loadtest/flask/app.py), side by side over one private PostGIS, GET
# /points?limit=100, taking turns, round after round. Both Python hosts
# run at most 8 requests of the handler at once (max_concurrency, as
# gunicorn runs 16 threads); a third host runs it fresh without that cap,
# for its memory. All three start from the compiled-artifact cache a first
# host filled (timed: the first start, and a restart). Also: the hosts'
# resident memory under that load (sampled every 0.2 s). All on 127.0.0.1; it stops what it started.
#
#   loadtest/python.sh            # writes loadtest/report/python.csv
set -euo pipefail
cd "$(dirname "$0")/.."
hold=${HOLD:-15s}
clients=${CLIENTS:-32}
rounds=${ROUNDS:-3}
out=loadtest/report
raw=$(mktemp -d /tmp/geofn-python.XXXXXX)
chmod 755 "$raw"

source loadtest/common.sh
build_release
make python-handlers >/dev/null
flask=$target/tools/flask
if [[ ! -x $flask/bin/gunicorn ]]; then
  python3 -m venv "$flask"
  "$flask/bin/pip" install --quiet flask gunicorn psycopg2-binary
fi

mkdir -p "$raw/fresh" "$raw/reuse" "$raw/uncapped"
for dir in fresh reuse uncapped; do
  cp "$target"/handlers/* "$raw/$dir/"
  cp "$target/python-handlers/points.wasm" "$raw/$dir/points.wasm"
done
printf '\n[handlers.points.limits]\nmax_concurrency = 8\n' >> "$raw/fresh/geofn.toml"
printf '\n[handlers.points.limits]\nmax_concurrency = 8\nreuse_requests = [1000, 10000]\n' >> "$raw/reuse/geofn.toml"
fresh_port=$(free_port); reuse_port=$(free_port); flask_port=$(free_port); dev_port=$(free_port)
uncapped_port=$(free_port)

# Start to listening, timed to 5 ms (wait_for polls every 0.5 s).
listening_after() {
  local started=$1 out=$2
  for _ in $(seq 1 6000); do
    grep -q listening "$out" && { echo $(( ($(date +%s%N) - started) / 1000000 )); return; }
    sleep 0.005
  done
  cat "$out" >&2; exit 1
}

# The first start compiles the component into the cache; this host also
# runs the private PostGIS the others use. Its memory after compiling is
# noted, not measured under load: the measured hosts start from the cache,
# as any restart does.
started=$(date +%s%N)
"$target/release/geofn" dev --listen 127.0.0.1:$dev_port --handlers "$raw/fresh" \
  --data-dir "$raw/data" --cache-dir "$raw/cache" >"$raw/dev.out" 2>"$raw/dev.log" &
dev_pid=$!
trap 'kill $dev_pid ${fresh_pid:-} ${reuse_pid:-} ${uncapped_pid:-} ${flask_pid:-} 2>/dev/null; wait 2>/dev/null; rm -rf "$raw"' EXIT
first_ms=$(listening_after "$started" "$raw/dev.out")
compiled_rss_mb=$(( $(awk '/^VmRSS/ {print $2}' "/proc/$dev_pid/status") / 1024 ))
pg_port=$(sed -n 4p "$raw/data/pgdata/postmaster.pid")
password=$(cat "$raw/data/password")
url="postgresql://geofn:$password@127.0.0.1:$pg_port/geofn"
PGPASSWORD=$password psql -q -h 127.0.0.1 -p "$pg_port" -U geofn geofn -c \
  "INSERT INTO points.points (name, geom) SELECT 'seed ' || g, ST_SetSRID(ST_MakePoint(random()*360-180, random()*180-90), 4326) FROM generate_series(1, 1000) g"

# A restart with the component compiled in the cache: start to listening.
started=$(date +%s%N)
DATABASE_URL=$url "$target/release/geofn" serve --listen 127.0.0.1:$fresh_port \
  --handlers "$raw/fresh" --cache-dir "$raw/cache" >"$raw/fresh.out" 2>"$raw/fresh.log" &
fresh_pid=$!
restart_ms=$(listening_after "$started" "$raw/fresh.out")
echo "first start (compiling the Python component): $first_ms ms, ${compiled_rss_mb} MB resident after;" \
  "restart from the cache: $restart_ms ms"

DATABASE_URL=$url "$target/release/geofn" serve --listen 127.0.0.1:$reuse_port \
  --handlers "$raw/reuse" --cache-dir "$raw/cache" >"$raw/reuse.out" 2>"$raw/reuse.log" &
reuse_pid=$!
wait_for "$raw/reuse.out"
DATABASE_URL=$url "$target/release/geofn" serve --listen 127.0.0.1:$uncapped_port \
  --handlers "$raw/uncapped" --cache-dir "$raw/cache" >"$raw/uncapped.out" 2>"$raw/uncapped.log" &
uncapped_pid=$!
wait_for "$raw/uncapped.out"
(cd loadtest/flask && DATABASE_URL=$url exec "$flask/bin/gunicorn" -w 4 --threads 4 -k gthread \
  -b 127.0.0.1:$flask_port app:app >"$raw/flask.log" 2>&1) &
flask_pid=$!
for _ in $(seq 1 60); do curl -sf "http://127.0.0.1:$flask_port/points?limit=1" >/dev/null && break; sleep 0.5; done

# Largest resident set of PID while the command after it runs, in MB.
peak_rss() {
  local pid=$1 peak=0 rss; shift
  "$@" > "$raw/measured" &
  local job=$!
  while kill -0 $job 2>/dev/null; do
    rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
    (( rss > peak )) && peak=$rss
    sleep 0.2
  done
  wait $job
  echo "$(cat "$raw/measured"),$(( peak / 1024 ))"
}

mkdir -p "$out"
echo "round,fresh_rps,fresh_p99_ms,fresh_host_us,fresh_rss_mb,reuse_rps,reuse_p99_ms,reuse_host_us,reuse_rss_mb,uncapped_rps,uncapped_p99_ms,uncapped_host_us,uncapped_rss_mb,flask_rps,flask_p99_ms,restart_ms,first_start_ms,compiled_rss_mb" \
  > "$out/python.csv"
echo "== $rounds rounds, $clients connections, no think time, $hold each, GET /points?limit=100"
for round in $(seq 1 "$rounds"); do
  a=$(peak_rss $fresh_pid measure "fresh-$round" "http://127.0.0.1:$fresh_port" get "/points?limit=100" "$fresh_pid")
  b=$(peak_rss $reuse_pid measure "reuse-$round" "http://127.0.0.1:$reuse_port" get "/points?limit=100" "$reuse_pid")
  u=$(peak_rss $uncapped_pid measure "uncapped-$round" "http://127.0.0.1:$uncapped_port" get "/points?limit=100" "$uncapped_pid")
  # Its CPU is spread over gunicorn's workers: throughput and latency only.
  c=$(measure "flask-$round" "http://127.0.0.1:$flask_port" get "/points?limit=100" "$flask_pid" | cut -d, -f1,2)
  echo "$round,$a,$b,$u,$c,$restart_ms,$first_ms,$compiled_rss_mb" | tee -a "$out/python.csv"
done
echo "wrote $out/python.csv"
