#!/usr/bin/env bash
# Installs componentize-py (PyPI), pinned, into its own virtualenv under
# TOOLS_DIR: it builds Python handlers into components. Safe to run again.
#
#   scripts/install-componentize-py.sh TOOLS_DIR VERSION
set -euo pipefail
venv=$1/componentize-py
version=$2
if [[ -x $venv/bin/componentize-py ]] &&
   [[ $("$venv/bin/pip" show componentize-py 2>/dev/null | sed -n 's/^Version: //p') == "$version" ]]; then
  exit 0
fi
echo "install-componentize-py: installing componentize-py $version into $venv"
# Debian's own python3 keeps venv (and ensurepip) in a package of its own.
if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
  sudo=""; [[ "$(id -u)" != 0 ]] && sudo="sudo"
  $sudo apt-get install -y -qq python3-venv
fi
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet "componentize-py==$version"
