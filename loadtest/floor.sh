#!/usr/bin/env bash
# Accounts for the per-request floor: what one fresh instance of the empty
# handler costs, counted per request by the kernel, in three settings:
#   - hot:    instantiate + call in a loop on one task (criterion's loop,
#             one pool slot reused every time), examples/floor.rs;
#   - cycled: the same with 32 calls in flight (32 slots taking turns);
#   - http:   GET /empty against GET /livez on the running host, 32
#             connections, the load generator on the same machine.
# Also the probe writing 16 and 100 scattered pages per request (the
# PAGEMAP_SCAN reset sees 32 dirty regions at a time).
# Counts: CPU, page faults, context switches, TLB flushes on this process
# (tlb:tlb_flush) and TLB shootdown interrupts machine-wide
# (/proc/interrupts), system calls (all, and the ten most frequent for
# /empty from strace -c). Writes loadtest/report/floor.csv and
# loadtest/report/floor-syscalls.txt. Everything on 127.0.0.1.
#
#   loadtest/floor.sh
set -euo pipefail
cd "$(dirname "$0")/.."
hold=${HOLD:-10s}
clients=${CLIENTS:-32}
calls=${CALLS:-200000}
out=loadtest/report
raw=$(mktemp -d /tmp/geofn-floor.XXXXXX)
chmod 755 "$raw"

command -v perf >/dev/null || apt-get install -y -q linux-perf >/dev/null
command -v strace >/dev/null || apt-get install -y -q strace >/dev/null
source loadtest/common.sh
build_release
cargo build --release -p geofn --example floor >/dev/null
floor=$target/release/examples/floor
events=task-clock,page-faults,context-switches,cpu-migrations,tlb:tlb_flush,raw_syscalls:sys_enter

# TLB shootdown interrupts received by all CPUs so far.
shootdowns() { awk '$1 == "TLB:" { for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) t += $i } END { print t + 0 }' /proc/interrupts; }

# perf's CSV (value,unit,event,...) as "event value" lines.
counts() { awk -F, '$1 ~ /^[0-9.]+$/ { print $3, $1 }' "$1"; }

# One CSV row from two count files (before/after or baseline/measured):
#   row LABEL REQUESTS WITH WITHOUT SHOOTDOWNS
row() {
  awk -v label="$1" -v n="$2" -v tlbi="$5" '
    FNR == NR { base[$1] = $2; next }
    { d[$1] = $2 - base[$1] }
    END {
      printf "%s,%d,%.2f,%.3f,%.3f,%.3f,%.3f,%.2f\n", label, n,
        d["task-clock"] * 1000 / n, d["page-faults"] / n, d["context-switches"] / n,
        d["tlb:tlb_flush"] / n, tlbi / n, d["raw_syscalls:sys_enter"] / n
    }' <(counts "$4") <(counts "$3")
}

mkdir -p "$out"
echo "setting,requests,cpu_us,page_faults,context_switches,tlb_flushes,tlb_shootdowns,syscalls" > "$out/floor.csv"

echo "== instantiate + call without HTTP, $calls calls"
for concurrency in 1 32; do
  label=$([[ $concurrency == 1 ]] && echo hot || echo cycled)
  perf stat -x, -e "$events" -o "$raw/$label-base.csv" "$floor" 0 "$concurrency" >/dev/null
  tlbi=$(shootdowns)
  perf stat -x, -e "$events" -o "$raw/$label.csv" "$floor" "$calls" "$concurrency" | tee -a "$raw/floor.txt"
  tlbi=$(( $(shootdowns) - tlbi ))
  row "$label" "$calls" "$raw/$label.csv" "$raw/$label-base.csv" "$tlbi" | tee -a "$out/floor.csv"
done

echo "== the host, $clients connections, $hold per route"
mkdir -p "$raw/handlers"
cp "$target"/handlers/* "$target/test-handlers/empty.wasm" "$raw/handlers/"
cp "$target/test-handlers/probe-v1.wasm" "$raw/handlers/probe.wasm"
printf '\n[handlers.empty]\ncomponent = "empty.wasm"\nroutes = ["GET /empty"]\n' >> "$raw/handlers/geofn.toml"
printf '\n[handlers.probe]\ncomponent = "probe.wasm"\nroutes = ["GET /probe/{action}"]\n' >> "$raw/handlers/geofn.toml"
port=$(free_port)
"$target/release/geofn" dev --listen 127.0.0.1:$port --handlers "$raw/handlers" \
  --data-dir "$raw/data" --no-cache >"$raw/geofn.out" 2>"$raw/geofn.log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait 2>/dev/null; rm -rf "$raw"' EXIT
wait_for "$raw/geofn.out"
url=http://127.0.0.1:$port
seconds=${hold%s}
# The probe's scatter writes N pages 8 KiB apart (N dirty regions): how
# the reset's cost grows past the 32 regions one PAGEMAP_SCAN reports.
for run in "http-livez /livez" "http-empty /empty" \
    "http-scatter-16 /probe/scatter?seed=7&pages=16&hold_ms=0" \
    "http-scatter-100 /probe/scatter?seed=7&pages=100&hold_ms=0"; do
  read -r label path <<<"$run"
  "$load" closed --quiet --label warm --url "$url" --mix get --get-path "$path" --users "$clients" \
    --spawn-rate 10000 --think-min 0s --think-max 0s --hold 2s --out "$raw/warm" >/dev/null
  # The same window with no traffic: what the idle host itself costs.
  perf stat -x, -e "$events" -o "$raw/$label-base.csv" -p "$pid" -- sleep "$seconds"
  tlbi=$(shootdowns)
  perf stat -x, -e "$events" -o "$raw/$label.csv" -p "$pid" -- sleep "$seconds" &
  perf_pid=$!
  "$load" closed --quiet --label "$label" --url "$url" --mix get --get-path "$path" \
    --users "$clients" --spawn-rate 10000 --think-min 0s --think-max 0s --hold "$hold" \
    --out "$raw/$label" >>"$raw/runs.txt"
  wait "$perf_pid"
  tlbi=$(( $(shootdowns) - tlbi ))
  requests=$(awk -F, -v hold="$seconds" 'NR == 2 { printf "%d", $2 * hold }' "$raw/$label/steps.csv")
  row "$label" "$requests" "$raw/$label.csv" "$raw/$label-base.csv" "$tlbi" | tee -a "$out/floor.csv"
done

echo "== system calls of GET /empty (strace -c, 5 s; slows the host, counts stay per request)"
strace -c -f -p "$pid" -o "$raw/strace.txt" &
strace_pid=$!
sleep 1
"$load" closed --quiet --label strace --url "$url" --mix get --get-path /empty --users "$clients" \
  --spawn-rate 10000 --think-min 0s --think-max 0s --hold 5s --out "$raw/strace" >/dev/null
kill -INT "$strace_pid"; wait "$strace_pid" 2>/dev/null || true
requests=$(awk -F, 'NR == 2 { printf "%d", $2 * 5 }' "$raw/strace/steps.csv")
{
  echo "GET /empty, $requests requests under strace -c -f: calls per request"
  awk -v n="$requests" '$1 ~ /^[0-9.]+$/ && NF >= 5 { name = $NF; calls = $4; printf "%-20s %8.3f\n", name, calls / n }' \
    "$raw/strace.txt" | sort -k2 -rn | head -12
} | tee "$out/floor-syscalls.txt"
echo "wrote $out/floor.csv and $out/floor-syscalls.txt"
