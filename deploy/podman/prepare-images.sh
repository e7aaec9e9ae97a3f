#!/usr/bin/env bash
# Where no image registry is reachable: builds local stand-ins, under the
# exact names the Dockerfile and the compose files use, for the images
# they would pull. The Dockerfile and compose files stay what a user with
# a registry runs; these only fill the local image store. An image that is
# already there (pulled, or built by an earlier run) is left alone.
#
#   deploy/podman/prepare-images.sh [WORK_DIR]
#
# - debian:bookworm-slim  debootstrap --variant=minbase from Debian's archive
# - rust:1.95-bookworm    that Debian + build tools + this machine's rustup
#                         toolchain (rust-toolchain.toml's, with wasm32-wasip2)
# - postgis/postgis:15-3.4, nginx:1.27-bookworm, haproxy:2.8
#                         that Debian + Debian's packages, with the official
#                         images' start-up contracts (standins/)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export CONTAINERS_CONF=${CONTAINERS_CONF:-$here/containers.conf}
work=${1:-/var/tmp/geofn-standins}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
mkdir -p "$work"

have() { podman image exists "$1"; }
build() { # name containerfile context
  echo "prepare-images: building stand-in $1"
  podman build --pull=never --quiet --file "$2" --tag "$1" "$3" >/dev/null
}

debian=docker.io/library/debian:bookworm-slim
if ! have "$debian"; then
  echo "prepare-images: debootstrap bookworm (minbase) for $debian"
  rootfs=$work/rootfs
  rm -rf "$rootfs"
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -20 "$work/debootstrap.log" >&2; exit 1; }
  cat >"$rootfs/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
EOF
  # What the official slim image leaves out.
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin \
         "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/*
  tar -C "$rootfs" -c . | podman import --quiet --change 'CMD ["bash"]' - "$debian" >/dev/null
  rm -rf "$rootfs"
fi

rust=docker.io/library/rust:1.95-bookworm
if ! have "$rust"; then
  context=$work/rust
  rm -rf "$context"
  mkdir -p "$context/rustup/toolchains" "$context/cargo-bin" "$context/extra-ca"
  cp /usr/local/share/ca-certificates/*.crt "$context/extra-ca/" 2>/dev/null || true
  rustup_home=${RUSTUP_HOME:-$HOME/.rustup}
  toolchain=$(cd "$here/../.." && rustup show active-toolchain | cut -d' ' -f1)
  echo "prepare-images: toolchain $toolchain from $rustup_home"
  # Everything but the HTML documentation (800 MB no build reads).
  (cd "$rustup_home/toolchains" && tar -c --exclude="$toolchain/share/doc" "$toolchain") \
    | tar -C "$context/rustup/toolchains" -x
  cp -r "$rustup_home/update-hashes" "$context/rustup/" 2>/dev/null || true
  printf 'version = "12"\ndefault_toolchain = "%s"\nprofile = "minimal"\nauto_self_update = "disable"\n' \
    "$toolchain" >"$context/rustup/settings.toml"
  cp "$(command -v rustup)" "$context/cargo-bin/rustup"
  for proxy in cargo rustc rustdoc rustfmt cargo-fmt cargo-clippy clippy-driver; do
    ln "$context/cargo-bin/rustup" "$context/cargo-bin/$proxy"
  done
  build "$rust" "$here/standins/rust.Containerfile" "$context"
  rm -rf "$context"
fi

have docker.io/postgis/postgis:15-3.4 \
  || build docker.io/postgis/postgis:15-3.4 "$here/standins/postgis.Containerfile" "$here/standins"
have docker.io/library/nginx:1.27-bookworm \
  || build docker.io/library/nginx:1.27-bookworm "$here/standins/nginx.Containerfile" "$here/standins"
have docker.io/library/haproxy:2.8 \
  || build docker.io/library/haproxy:2.8 "$here/standins/haproxy.Containerfile" "$here/standins"
echo "prepare-images: base images ready"
