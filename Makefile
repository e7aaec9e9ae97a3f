# geofn — the two commands users need are `make run` and `make test`.
#
#   make run     install what is missing, build, serve on a private PostGIS (.geofn/)
#   make test    the whole suite (what CI runs)
#   make build   release host at target/release/geofn (and on the PATH, in $(BINDIR)),
#                components + manifest in target/handlers/

CARGO       ?= cargo
TARGET_DIR  := $(or $(CARGO_TARGET_DIR),target)
WASM_TARGET := wasm32-wasip2
# Handler components: fat LTO, one codegen unit (Cargo.toml's wasm-release):
# smaller components, so they fit a Kubernetes ConfigMap.
WASM_PROFILE := wasm-release
WASM_OUT    := $(TARGET_DIR)/$(WASM_TARGET)/$(WASM_PROFILE)
# Shipped handler components, and test-only ones built beside them.
HANDLERS      := points features regions feeds tiles
TEST_HANDLERS := probe empty
# Handlers written in Python (handlers/python/), built by componentize-py.
PYTHON_HANDLERS := points fetch
COMPONENTIZE_PY_VERSION := 0.25.1
PYTHON_OUT  := $(TARGET_DIR)/python-handlers
LISTEN      ?= 0.0.0.0:5000
# Where `make build` puts `geofn` so the README's commands find it: a
# directory every login has on its PATH.
BINDIR      ?= $(if $(filter 0,$(shell id -u)),/usr/local/bin,$(HOME)/.cargo/bin)
DATA_DIR    ?= .geofn

.PHONY: run test build handlers python-handlers deps test-deps lint audit chart verify-deploy verify-containers verify-chart

deps:
	@scripts/install-deps.sh

test-deps:
	@scripts/install-deps.sh test $(TARGET_DIR)/tools
	@scripts/install-helm.sh $(TARGET_DIR)/tools/helm

# Copy $(1) to $(2) by rename, so a running host never reads half a file.
publish = cp $(1) $(2).tmp && mv -f $(2).tmp $(2)

# Components for wasm32-wasip2, plus the manifest, in $(TARGET_DIR)/handlers
# (a running `geofn dev` swaps them in). Test-only components, the probe in
# two versions for the hot-swap tests and four more whose migrations or
# variables differ, go to $(TARGET_DIR)/test-handlers.
handlers: deps
	$(CARGO) build --profile $(WASM_PROFILE) --target $(WASM_TARGET) $(addprefix -p ,$(HANDLERS))
	mkdir -p $(TARGET_DIR)/handlers $(TARGET_DIR)/test-handlers
	$(foreach h,$(HANDLERS),$(call publish,$(WASM_OUT)/$(h).wasm,$(TARGET_DIR)/handlers/$(h).wasm) &&) true
	$(call publish,handlers/geofn.toml,$(TARGET_DIR)/handlers/geofn.toml)
	$(CARGO) build --profile $(WASM_PROFILE) --target $(WASM_TARGET) -p empty
	cp $(WASM_OUT)/empty.wasm $(TARGET_DIR)/test-handlers/empty.wasm
	for version in v1 v2; do \
	  PROBE_VERSION=$$version $(CARGO) build --profile $(WASM_PROFILE) --target $(WASM_TARGET) -p probe && \
	  cp $(WASM_OUT)/probe.wasm $(TARGET_DIR)/test-handlers/probe-$$version.wasm || exit 1; \
	done
	for migrations in edited more broken needs-secret; do \
	  PROBE_MIGRATIONS=$$migrations $(CARGO) build --profile $(WASM_PROFILE) --target $(WASM_TARGET) -p probe && \
	  cp $(WASM_OUT)/probe.wasm $(TARGET_DIR)/test-handlers/probe-$$migrations.wasm || exit 1; \
	done

# Python handlers, each one artifact (component + embedded manifest), in
# $(TARGET_DIR)/python-handlers; rebuilt when the handler, the SDK or the
# WIT changes.
python-handlers: $(foreach h,$(PYTHON_HANDLERS),$(PYTHON_OUT)/$(h).wasm)

.SECONDEXPANSION:
$(PYTHON_OUT)/%.wasm: $$(wildcard handlers/python/$$*/*.py) handlers/python/%/geofn-handler.toml \
		$$(wildcard handlers/python/$$*/openapi.json) \
		$(wildcard handlers/python/sdk/geofn/*.py) handlers/python/build.py wit/handler.wit $(wildcard wit/deps/*/*.wit)
	@scripts/install-componentize-py.sh $(TARGET_DIR)/tools $(COMPONENTIZE_PY_VERSION)
	python3 handlers/python/build.py $(TARGET_DIR)/tools/componentize-py/bin/componentize-py \
	  handlers/python/$* $@

build: handlers
	$(CARGO) build --release -p geofn
	@if [ "$(TARGET_DIR)" != target ]; then \
	  mkdir -p target/release target/handlers && \
	  cp $(TARGET_DIR)/release/geofn target/release/geofn && \
	  cp $(TARGET_DIR)/handlers/* target/handlers/; fi
	@mkdir -p $(BINDIR) && install -m 0755 target/release/geofn $(BINDIR)/geofn.tmp && \
	  mv -f $(BINDIR)/geofn.tmp $(BINDIR)/geofn && echo "installed $(BINDIR)/geofn"
	@case ":$$PATH:" in *":$(BINDIR):"*) ;; \
	  *) echo "note: $(BINDIR) is not on your PATH; add it, or call $(BINDIR)/geofn";; esac

run: build
	target/release/geofn dev --listen $(LISTEN) --handlers target/handlers --data-dir $(DATA_DIR)

# The host's crates, bottom layer first (docs/internals.md draws them).
HOST_CRATES := geofn-contract geofn-telemetry geofn-pgcluster geofn-auth geofn-oci geofn-db geofn-runtime \
               geofn-handler-set geofn-http geofn geofn-test-issuer geofn-test-registry

lint: deps
	$(CARGO) fmt --all --check
	# check-structure reads `cargo metadata --offline`: every platform's crates, fetched once.
	$(CARGO) fetch --locked --quiet
	python3 scripts/check-structure.py
	# The profile's phase rules (loadtest/profile_phases.py) on stacks shaped like perf's, and the report's tables.
	python3 -B -m unittest discover -s loadtest -p 'test_*.py'
	$(CARGO) clippy $(addprefix -p ,$(HOST_CRATES) geofn-load) --all-targets -- -D warnings
	$(CARGO) clippy --target $(WASM_TARGET) $(addprefix -p ,geofn-contract geofn-guest pointquery $(HANDLERS) $(TEST_HANDLERS)) -- -D warnings

# Known advisories (offline RustSec snapshot), licences, bans, sources.
audit:
	@scripts/audit.sh $(TARGET_DIR)/tools

# The Helm chart ships the components in a ConfigMap: copy them in.
chart: handlers
	cp $(TARGET_DIR)/handlers/* deploy/helm/geofn/handlers/

# Charts, proxy configs and compose files, checked without Docker or a cluster.
verify-deploy: test-deps handlers
	python3 deploy/verify.py $(TARGET_DIR)/tools/helm $(TARGET_DIR)/handlers

# The image built and both compose stacks run for real with podman, stand-in
# base images where no registry is reachable (deploy/podman/). Not part of
# `make test`: docs/deploying.md says how long it takes.
verify-containers: handlers
	@deploy/podman/install.sh $(TARGET_DIR)/tools
	python3 deploy/podman/verify.py $(TARGET_DIR)/tools

# The charts' own workloads started from their rendered YAML with `podman
# kube play` (deploy/podman/verify_chart.py), with the image
# verify-containers built (built here if there is none).
verify-chart: test-deps handlers
	@deploy/podman/install.sh $(TARGET_DIR)/tools
	python3 deploy/podman/verify_chart.py $(TARGET_DIR)/tools

test: test-deps handlers python-handlers lint audit verify-deploy
	$(CARGO) test --workspace
