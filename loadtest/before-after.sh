#!/usr/bin/env bash
# The per-request accounting before and after a round of work: profiles the
# host and handlers of BEFORE (a commit) and of this tree in turns, for
# `GET /points?limit=100` and `POST /point`, RUNS times each (the order
# alternating, so the machine's drift falls on both alike), and keeps the
# mean of each as REPORT.md's columns:
#   loadtest/report/by-phase-{get,post}-before.txt, by-phase-{get,post}.txt
# About 14 minutes for 3 runs once both builds are warm.
#
#   loadtest/before-after.sh [BEFORE] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
before=${1:-7b76ac1}
runs=${2:-3}
kept=$(mktemp -d /tmp/geofn-before-after.XXXXXX)
trap 'rm -rf "$kept"' EXIT

# One profile of `which` (before | now) for `request` (get | post), run `n`.
profile() {
  local which=$1 request=$2 n=$3 path='/points?limit=100'
  [[ $request == post ]] && path=post
  if [[ $which == before ]]; then
    AT=$before loadtest/profile.sh "$path" 8 >"$kept/$request-$which-$n.log" 2>&1
  else
    loadtest/profile.sh "$path" 8 >"$kept/$request-$which-$n.log" 2>&1
  fi
  cp target/profile/by-phase.txt "$kept/$request-$which-$n.txt"
  echo "$request $which run $n: $(grep -o 'host CPU per request: [0-9]* µs' "$kept/$request-$which-$n.log")"
}

for n in $(seq 1 "$runs"); do
  for request in get post; do
    if (( n % 2 )); then order="before now"; else order="now before"; fi
    for which in $order; do profile "$which" "$request" "$n"; done
  done
done
for request in get post; do
  python3 loadtest/profile_phases.py --mean "$kept/$request"-before-*.txt \
    >"loadtest/report/by-phase-$request-before.txt"
  python3 loadtest/profile_phases.py --mean "$kept/$request"-now-*.txt \
    >"loadtest/report/by-phase-$request.txt"
done
echo "== wrote loadtest/report/by-phase-{get,post}{-before,}.txt"
