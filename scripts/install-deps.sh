#!/usr/bin/env bash
# Installs what geofn needs to build, run and test on Debian, and nothing
# that is already there: safe to run any number of times.
set -euo pipefail

# PostgreSQL + PostGIS for `geofn dev` and the tests; with `test`, also the
# real clients and proxies the test suite drives (GDAL's OAPIF driver,
# nginx, HAProxy, Chromium, a registry: docker-registry and htpasswd), and
# what the deploy checks need.
packages=(
  postgresql-15 postgresql-15-postgis-3 postgresql-client-15
)
if [[ "${1:-}" == "test" ]]; then
  packages+=(gdal-bin nginx haproxy chromium docker-registry apache2-utils)
fi
sudo=""
if [[ "$(id -u)" != 0 ]]; then
  sudo="sudo"
fi

missing=()
for pkg in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done
if (( ${#missing[@]} )); then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  # The Debian package would start a system-wide cluster on port 5432; geofn
  # runs its own, so keep the package's service from starting.
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
    $sudo chmod +x /usr/sbin/policy-rc.d
    trap '$sudo rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Deploy checks: kubernetes-validate (PyPI) for rendered charts.
if [[ "${1:-}" == "test" ]] && ! { command -v kubernetes-validate >/dev/null && python3 -c "import yaml"; }; then
  echo "install-deps: installing kubernetes-validate"
  python3 -m pip install --quiet kubernetes-validate pyyaml
fi

# The traces tests: an OTLP/gRPC collector (grpcio and the collector's
# protobuf messages, opentelemetry-proto) and Prometheus' own OpenMetrics
# parser (prometheus-client), all from PyPI.
if [[ "${1:-}" == "test" ]] && ! python3 -c "import grpc, opentelemetry.proto.collector.trace.v1.trace_service_pb2_grpc, prometheus_client.openmetrics.parser" 2>/dev/null; then
  echo "install-deps: installing grpcio, opentelemetry-proto and prometheus-client"
  python3 -m pip install --quiet grpcio opentelemetry-proto prometheus-client
fi

# The OGC client test reads the API with OWSLib (PyPI), as Python users do.
if [[ "${1:-}" == "test" ]] && ! python3 -c "import owslib.ogcapi.features" 2>/dev/null; then
  echo "install-deps: installing OWSLib"
  python3 -m pip install --quiet OWSLib
fi

# The OpenAPI test: the document checked by openapi-spec-validator, and
# the server checked against it by Schemathesis (its output is parsed, so
# its version is pinned), both from PyPI.
if [[ "${1:-}" == "test" ]] && ! python3 -c "
import importlib.metadata as m, openapi_spec_validator
assert m.version('schemathesis') == '4.32.5'" 2>/dev/null; then
  echo "install-deps: installing schemathesis and openapi-spec-validator"
  python3 -m pip install --quiet schemathesis==4.32.5 openapi-spec-validator==0.9.0
fi

# The browser test drives Debian's Chromium with playwright-core (npm),
# installed beside the build in $2 (no browser download: it uses ours).
if [[ "${1:-}" == "test" && -n "${2:-}" && ! -f "$2/node/node_modules/playwright-core/index.mjs" ]]; then
  echo "install-deps: installing playwright-core into $2/node"
  mkdir -p "$2/node"
  npm install --silent --no-audit --no-fund --prefix "$2/node" playwright-core@1.65.1
fi

# The toolchain and wasm target named in rust-toolchain.toml.
if command -v rustup >/dev/null; then
  rustup show active-toolchain >/dev/null 2>&1 || rustup toolchain install
  installed_targets=$(rustup target list --installed)
  grep -qx wasm32-wasip2 <<<"$installed_targets" || rustup target add wasm32-wasip2
  installed_components=$(rustup component list --installed)
  for component in rustfmt clippy; do
    grep -q "^$component" <<<"$installed_components" || rustup component add "$component"
  done
else
  echo "install-deps: rustup not found; install Rust from https://rustup.rs" >&2
  exit 1
fi
