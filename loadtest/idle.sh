#!/usr/bin/env bash
# What an idle host costs: starts `geofn dev` on the shipped handlers, lets
# it settle, then serves nothing for a while and prints, per thread name,
# context switches a second and CPU milliseconds a second (from /proc; the
# kernel counts CPU in 10 ms ticks, so the window is long). A host with no
# request in flight should wake for nothing: the epoch ticker parks, the
# file watcher waits on inotify. Everything on 127.0.0.1; it stops what it
# started.
#
#   loadtest/idle.sh [BINARY] [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}
binary=${1:-}
seconds=${2:-30}
if [[ -z $binary ]]; then
  cargo build --release -p geofn >/dev/null
  binary=$target/release/geofn
fi
make handlers >/dev/null
raw=$(mktemp -d /tmp/geofn-idle.XXXXXX)
chmod 755 "$raw"
cp -r "$target/handlers" "$raw/handlers"
# The tiles handler's summary schedule would wake it: retimed out of the window.
printf '\n[handlers.tiles.schedules.cells]\nevery = "1h"\n' >>"$raw/handlers/geofn.toml"
"$binary" dev --listen 127.0.0.1:0 --handlers "$raw/handlers" --data-dir "$raw/data" \
  --no-cache >"$raw/out" 2>"$raw/log" &
host=$!
trap 'kill $host 2>/dev/null; wait 2>/dev/null; rm -rf "$raw"' EXIT
for _ in $(seq 1 240); do grep -q listening "$raw/out" && break; sleep 0.5; done
grep -q listening "$raw/out" || { cat "$raw/log" >&2; exit 1; }
sleep 5

# Per thread name: context switches (voluntary + involuntary) and CPU ticks.
threads() {
  for task in /proc/"$host"/task/*; do
    printf '%s %s %s\n' "$(tr ' ' _ <"$task/comm")" \
      "$(awk '/^(non)?voluntary_ctxt_switches/ { s += $2 } END { print s }' "$task/status")" \
      "$(awk '{ print $14 + $15 }' "$task/stat")"
  done | awk '{ s[$1] += $2; c[$1] += $3 } END { for (k in s) print k, s[k], c[k] }' | sort
}
threads >"$raw/before"
sleep "$seconds"
threads >"$raw/after"
echo "idle for $seconds s, per thread:"
join "$raw/before" "$raw/after" | awk -v s="$seconds" \
  '{ printf "  %-18s %7.1f switches/s %7.2f ms CPU/s\n", $1, ($4 - $2) / s, ($5 - $3) * 10 / s }'
