#!/usr/bin/env bash
# What make verify-containers needs, installed only where missing (safe to
# run again): Debian's podman with runc, netavark + aardvark-dns (container
# networks with DNS), iptables (netavark's NAT), debootstrap (the Debian
# base image), catatonit (the init of the pause image `podman kube play`
# builds for pods), curl (the guide's lines in make verify-chart), and
# podman-compose (PyPI, pinned) in TOOLS_DIR.
#
#   deploy/podman/install.sh TOOLS_DIR
set -euo pipefail
tools=${1:?usage: install.sh TOOLS_DIR}
packages=(podman runc netavark aardvark-dns iptables debootstrap catatonit curl)
missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if (( ${#missing[@]} )); then
  echo "install: ${missing[*]}"
  sudo=""; [[ "$(id -u)" == 0 ]] || sudo=sudo
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
compose_version=1.6.0
if ! "$tools/podman-compose/bin/podman-compose" --version 2>/dev/null | grep -q "version $compose_version"; then
  echo "install: podman-compose $compose_version"
  python3 -m venv "$tools/podman-compose"
  "$tools/podman-compose/bin/pip" install --quiet "podman-compose==$compose_version"
fi
