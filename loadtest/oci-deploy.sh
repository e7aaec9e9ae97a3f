#!/usr/bin/env bash
# What a deploy from an OCI registry costs: the release host on a private
# PostGIS and a docker-registry (CNCF Distribution) on loopback; the Rust
# and the Python points components published, then pushed by tag, each
# answer's timings_ms (receive = resolve + pull + verify, compile, check =
# the whole set built with migrations, store, swap) recorded:
#   cold    a replica with an empty cache and no handler: pulled from
#           the registry and compiled;
#   cached  the same replica pushed the same tag again (the artifact and
#           the compiled code in memory and on disk);
#   restart a new replica over the first one's cache folder: the tag
#           resolved at the registry, the component read from disk by
#           digest, compiled code loaded from disk.
#   make build python-handlers && loadtest/oci-deploy.sh [rounds]
# Writes loadtest/report/oci-deploy.csv.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
command -v docker-registry >/dev/null || { echo "docker-registry missing: apt-get install docker-registry" >&2; exit 1; }
command -v jq >/dev/null || { echo "jq missing: apt-get install jq" >&2; exit 1; }
source loadtest/common.sh
target=${CARGO_TARGET_DIR:-target}
geofn=$target/release/geofn
python=$target/python-handlers/points.wasm
[[ -f $python ]] || { echo "$python missing: make python-handlers" >&2; exit 1; }

work=$(mktemp -d /tmp/geofn-oci-deploy.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done; rm -rf "$work"; }
trap cleanup EXIT

registry=127.0.0.1:$(free_port)
cat >"$work/registry.yml" <<EOF
version: 0.1
log: {level: warn}
storage: {filesystem: {rootdirectory: $work/registry}}
http: {addr: $registry}
EOF
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do curl -sf "http://$registry/v2/" >/dev/null && break; sleep 0.1; done
export GEOFN_OCI_INSECURE_REGISTRIES=$registry GEOFN_ADMIN_TOKEN=oci-deploy

"$geofn" publish "$target/handlers/points.wasm" "oci://$registry/geofn/points:rust" 2>/dev/null
"$geofn" publish "$python" "oci://$registry/geofn/points:python" 2>/dev/null

# Replicas start with no handler of their own, so the first push of each
# component compiles it.
mkdir -p "$work/handlers"
echo "# no handlers: every one is pushed" >"$work/handlers/geofn.toml"

# start NAME CACHE DATA: a replica with that cache and that private
# database; sets `url`.
start() {
  local port
  port=$(free_port)
  "$geofn" dev --listen "127.0.0.1:$port" --handlers "$work/handlers" --data-dir "$3" \
    --cache-dir "$2" >"$work/$1.stdout" 2>"$work/$1.log" &
  pids+=($!)
  wait_for "$work/$1.stdout"
  url=http://127.0.0.1:$port
}

mkdir -p loadtest/report
out=loadtest/report/oci-deploy.csv
echo "round,component,case,wall_ms,receive_ms,compile_ms,check_ms,store_ms,swap_ms" >"$out"
# push ROUND LANGUAGE CASE: push the tag to $url, one CSV row.
push() {
  local started answer wall
  started=$(date +%s%N)
  answer=$("$geofn" push "oci://$registry/geofn/points:$2" --url "$url")
  wall=$(( ($(date +%s%N) - started) / 1000000 ))
  jq -r --arg r "$1" --arg c "$2" --arg k "$3" --arg w "$wall" \
    '[$r, $c, $k, $w, .timings_ms.receive, .timings_ms.compile, .timings_ms.check,
      .timings_ms.store, .timings_ms.swap] | join(",")' <<<"$answer" | tee -a "$out"
}

for round in $(seq 1 "$rounds"); do
  cache=$work/cache-$round
  start "first-$round" "$cache" "$work/data-$round"
  for language in rust python; do
    push "$round" "$language" cold
    push "$round" "$language" cached
  done
  kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true; unset 'pids[-1]'
  start "restart-$round" "$cache" "$work/data-$round"
  for language in rust python; do
    push "$round" "$language" restart
  done
  kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true; unset 'pids[-1]'
done
