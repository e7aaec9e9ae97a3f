#!/usr/bin/env bash
# Supply-chain gate of `make test`: cargo-deny over the whole workspace —
# known advisories (RustSec), licences, banned crates, crate sources.
#
#   scripts/audit.sh [TOOLS_DIR]
#
# No machine here reaches the live RustSec database, so the advisories come
# from the offline snapshot at $GEOFN_ADVISORY_DB (default ../shared/advisory-db),
# put where cargo-deny looks for its clone. Where github.com is reachable,
# GEOFN_ADVISORY_LIVE=1 checks against the live database instead.
# Safe to run again: cargo-deny and the snapshot's clone are reused.
set -euo pipefail
cd "$(dirname "$0")/.."
tools=$(realpath -m "${1:-target/tools}")
version=0.20.2
deny=$tools/cargo-deny/bin/cargo-deny
if ! "$deny" --version 2>/dev/null | grep -qx "cargo-deny $version"; then
  echo "audit: installing cargo-deny $version"
  cargo install --quiet --locked cargo-deny --version "$version" --root "$tools/cargo-deny"
fi

# cargo-deny reads the dependency graph of every target deny.toml names;
# resolve it here, where the crate registry is reachable.
metadata=$tools/cargo-metadata.json
cargo metadata --format-version 1 --locked >"$metadata"
# The vendored wasmtime (a path dependency, which cargo-deny cannot match to
# advisories) is checked as the upstream crate it was taken from.
upstream=$tools/cargo-metadata-wasmtime-upstream.json
cargo metadata --format-version 1 --locked \
  --manifest-path vendor/wasmtime-upstream/Cargo.toml >"$upstream"
scripts/check-vendored.sh "$upstream"

if [[ -n "${GEOFN_ADVISORY_LIVE:-}" ]]; then
  "$deny" --metadata-path "$upstream" --config deny.toml check advisories
  exec "$deny" --metadata-path "$metadata" --config deny.toml check
fi

snapshot=${GEOFN_ADVISORY_DB:-../shared/advisory-db}
if [[ ! -d "$snapshot/crates" ]]; then
  echo "audit: WARNING: no advisory database at $snapshot (set GEOFN_ADVISORY_DB," \
       "or GEOFN_ADVISORY_LIVE=1 where github.com is reachable); checking" \
       "licences, bans and sources only" >&2
  exec "$deny" --offline --metadata-path "$metadata" --config deny.toml check bans licenses sources
fi

# cargo-deny 0.20 keeps the clone of https://github.com/rustsec/advisory-db
# (deny.toml's db-urls) in this folder of db-path; it must be a git
# repository, so the snapshot's plain files are committed into one.
export GEOFN_ADVISORY_DBS=$tools/advisory-dbs
clone=$GEOFN_ADVISORY_DBS/advisory-db-3157b0e258782691
stamp=$(cd "$snapshot" && find . -type f -newer "$clone/.git/HEAD" 2>/dev/null | head -1 || true)
if [[ ! -d "$clone/.git" || -n "$stamp" ]]; then
  rm -rf "$clone"
  mkdir -p "$clone"
  cp -r "$snapshot"/. "$clone"/
  git -C "$clone" init --quiet
  git -C "$clone" add --all
  git -C "$clone" -c user.name=geofn -c user.email=geofn@localhost \
    commit --quiet --message "RustSec advisory-db snapshot from $snapshot"
fi
echo "audit: advisories from $(grep -o '[0-9a-f]\{40\}' "$snapshot/SNAPSHOT.md" 2>/dev/null || echo "$snapshot")"
"$deny" --offline --metadata-path "$upstream" --config deny.toml check advisories
exec "$deny" --offline --metadata-path "$metadata" --config deny.toml check
