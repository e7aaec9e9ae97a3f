#!/usr/bin/env bash
# Builds {{name}}.wasm: componentize-py (pinned, installed into .venv on
# first use) makes the component, build.py embeds geofn-handler.toml in it.
set -euo pipefail
cd "$(dirname "$0")"
if [[ ! -x .venv/bin/componentize-py ]]; then
  python3 -m venv .venv
  .venv/bin/pip install --quiet "componentize-py=={{componentize_py}}"
fi
python3 build.py .venv/bin/componentize-py . {{name}}.wasm --wit wit --sdk .
