#!/usr/bin/env bash
# vendor/wasmtime must be upstream's published crate, at the version
# vendor/wasmtime-upstream names, with vendor/wasmtime.patch applied and
# nothing else changed. Part of `make audit`.
#
#   scripts/check-vendored.sh METADATA_JSON   # cargo metadata of vendor/wasmtime-upstream
set -euo pipefail
cd "$(dirname "$0")/.."
upstream=$(python3 -c '
import json, os, sys
packages = json.load(open(sys.argv[1]))["packages"]
print(next(os.path.dirname(p["manifest_path"]) for p in packages
           if p["name"] == "wasmtime" and p["source"]))' "$1")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$upstream" "$work/wasmtime"
rm -f "$work/wasmtime/.cargo-ok" "$work/wasmtime/Cargo.lock"
(cd "$work/wasmtime" && git apply --whitespace=nowarn "$OLDPWD/vendor/wasmtime.patch")
if ! diff -r "$work/wasmtime" vendor/wasmtime; then
  echo "check-vendored: vendor/wasmtime differs from $(basename "$upstream") plus vendor/wasmtime.patch" >&2
  exit 1
fi
echo "check-vendored: vendor/wasmtime is $(basename "$upstream") plus vendor/wasmtime.patch"
