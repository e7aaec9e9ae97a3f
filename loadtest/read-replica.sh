#!/usr/bin/env bash
# GET /points?limit=100 with reads on a streaming replica, against the same
# host reading from the primary alone, side by side in one run: a private
# primary (geofn dev), a pg_basebackup -R standby of it, and two geofn
# processes over them — one primary-only, one with DATABASE_READ_URL. The
# Rust load generator saturates each in turn, round after round. All on
# 127.0.0.1; it stops what it started. About 5 minutes after the build.
#
#   loadtest/read-replica.sh            # writes loadtest/report/read-replica.csv
set -euo pipefail
cd "$(dirname "$0")/.."
hold=${HOLD:-20s}
clients=${CLIENTS:-32}
rounds=${ROUNDS:-3}
out=loadtest/report
raw=$(mktemp -d /tmp/geofn-read-replica.XXXXXX)
chmod 755 "$raw"

source loadtest/common.sh
build_release
pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
as_postgres() { if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }

echo "== primary (geofn dev, primary-only host), standby, host with the replica"
primary_port=$(free_port); replica_host_port=$(free_port); standby_port=$(free_port)
$target/release/geofn dev --listen 127.0.0.1:$primary_port --handlers $target/handlers \
  --data-dir "$raw/primary" >"$raw/primary.out" 2>"$raw/primary.log" &
primary_pid=$!
cleanup() {
  kill ${replica_pid:-} $primary_pid 2>/dev/null || true
  as_postgres "$pg_bin/pg_ctl" stop -D "$raw/standby" -m fast >/dev/null 2>&1 || true
  wait 2>/dev/null || true
  rm -rf "$raw"
}
trap cleanup EXIT
wait_for "$raw/primary.out"
pg_port=$(sed -n 4p "$raw/primary/pgdata/postmaster.pid")
password=$(cat "$raw/primary/password")
export PGPASSWORD=$password PGHOST=127.0.0.1 PGPORT=$pg_port PGUSER=geofn PGDATABASE=geofn
psql -q -c "INSERT INTO points.points (name, geom) SELECT 'seed ' || g, ST_SetSRID(ST_MakePoint(random()*360-180, random()*180-90), 4326) FROM generate_series(1, 1000) g"

install -d -m 700 -o postgres "$raw/standby"
as_postgres env PGPASSWORD="$password" "$pg_bin/pg_basebackup" -D "$raw/standby" -R -X stream -c fast \
  -h 127.0.0.1 -p "$pg_port" -U geofn
as_postgres "$pg_bin/pg_ctl" start -D "$raw/standby" -l "$raw/standby/server.log" -w \
  -o "-p $standby_port -c listen_addresses=127.0.0.1 -c unix_socket_directories=''" >/dev/null
DATABASE_URL="postgresql://geofn:$password@127.0.0.1:$pg_port/geofn" \
DATABASE_READ_URL="postgresql://geofn:$password@127.0.0.1:$standby_port/geofn" \
  $target/release/geofn serve --listen 127.0.0.1:$replica_host_port --handlers $target/handlers \
  >"$raw/replica.out" 2>"$raw/replica.log" &
replica_pid=$!
wait_for "$raw/replica.out"
sleep 2

primary=http://127.0.0.1:$primary_port
with_replica=http://127.0.0.1:$replica_host_port
saturate() { # label url -> "throughput,p99_ms"
  "$load" closed --quiet --label "$1" --url "$2" --mix get --get-path "/points?limit=100" \
    --users "$clients" --spawn-rate 10000 --think-min 0s --think-max 0s --hold "$hold" \
    --out "$raw/$1" >>"$raw/runs.txt"
  sed -n 2p "$raw/$1/steps.csv" | cut -d, -f2,6
}
mkdir -p "$out"
echo "round,primary_only_rps,primary_only_p99_ms,with_replica_rps,with_replica_p99_ms" \
  > "$out/read-replica.csv"
echo "== $rounds rounds, $clients connections, no think time, $hold each"
for round in $(seq 1 "$rounds"); do
  a=$(saturate "primary-r$round" "$primary")
  b=$(saturate "replica-r$round" "$with_replica")
  echo "$round,$a,$b" | tee -a "$out/read-replica.csv"
done
replica_reads=$(curl -s "$with_replica/metrics" | awk '/^geofn_db_reads_total\{target="replica"\}/ {print $2}')
echo "reads the replica served: $replica_reads"
echo "wrote $out/read-replica.csv"
