# Shared by the loadtest scripts (sourced): the release build, free ports,
# waiting for a host to listen, CPU time of a process.

# Builds the release host, the components and the load generator; sets
# `target` (cargo's target folder) and `load` (the generator).
build_release() {
  echo "== building (release)"
  make build >/dev/null
  cargo build --release -p geofn-load --bins >/dev/null
  target=${CARGO_TARGET_DIR:-target}
  load=$target/release/geofn-load
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Waits until a host's stdout file says it listens.
wait_for() { for _ in $(seq 1 120); do grep -q listening "$1" && return; sleep 0.5; done; cat "$1"; exit 1; }

# CPU time (user + system, clock ticks) of one process.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# Saturates URL with $clients connections for $hold (no think time) and
# prints "throughput,p99_ms,host_us_per_request" (host: process PID).
#   measure LABEL URL MIX(get|post) GET_PATH PID
measure() {
  local before after line requests
  before=$(ticks "$5")
  "$load" closed --quiet --label "$1" --url "$2" --mix "$3" --get-path "$4" \
    --users "$clients" --spawn-rate 10000 --think-min 0s --think-max 0s --hold "$hold" \
    --out "$raw/$1" >>"$raw/runs.txt"
  after=$(ticks "$5")
  line=$(sed -n 2p "$raw/$1/steps.csv")
  requests=$(awk -F, -v hold="${hold%s}" '{printf "%d", $2 * hold}' <<<"$line")
  echo "$(cut -d, -f2,6 <<<"$line"),$(( (after - before) * 10000 / requests ))"
}

# Starts the release `geofn dev` on a free port (serving $2, default the
# built handlers), its private PostGIS in
# $1 (a scratch folder the caller removes); sets `port`, `host` (its PID)
# and `psql` (to its database, the points handler's schema first).
start_dev_host() {
  local work=$1 target=${CARGO_TARGET_DIR:-target} pg_port
  local handlers=${2:-$target/handlers}
  port=$(free_port)
  "$target/release/geofn" dev --listen "127.0.0.1:$port" --handlers "$handlers" \
    --data-dir "$work/data" >"$work/stdout" 2>"$work/log" &
  host=$!
  wait_for "$work/stdout"
  pg_port=$(sed -n 4p "$work/data/pgdata/postmaster.pid")
  export PGPASSWORD=$(cat "$work/data/password")
  # The points handler's table lives in its own schema.
  export PGOPTIONS="-c search_path=points,public"
  psql="psql -q -h 127.0.0.1 -p $pg_port -U geofn -d geofn -v ON_ERROR_STOP=1"
}

# Prints "req/s,p99 ms" of wrk (2 threads, $connections connections,
# $seconds s) against URL; further arguments go to wrk (e.g. -H ...).
#   wrk_rate URL [WRK_ARGS...]
wrk_rate() {
  local url=$1
  shift
  wrk -t2 -c"$connections" -d"${seconds}s" --latency "$@" "$url" \
    | awk '/Requests\/sec/ {rps=$2} / 99%/ {p=$2; if (p ~ /us$/) {sub(/us/,"",p); p/=1000} else if (p ~ /ms$/) {sub(/ms/,"",p)} else if (p ~ /s$/) {sub(/s/,"",p); p*=1000}} END {printf "%d,%.1f", rps, p}'
}
