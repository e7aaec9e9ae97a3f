# geofn — the two commands users need are `make run` and `make test`.
#
#   make run     install what is missing, build, serve on a private PostGIS (.geofn/)
#   make test    the whole suite (what CI runs)
#   make build   release host at target/release/geofn, components + manifest in target/handlers/

CARGO       ?= cargo
TARGET_DIR  := $(or $(CARGO_TARGET_DIR),target)
WASM_TARGET := wasm32-wasip2
WASM_OUT    := $(TARGET_DIR)/$(WASM_TARGET)/release
# Shipped handler components, and test-only ones built beside them.
HANDLERS      := points
TEST_HANDLERS := probe
LISTEN      ?= 0.0.0.0:5000
DATA_DIR    ?= .geofn

.PHONY: run test build handlers deps lint

deps:
	@scripts/install-deps.sh

# Components for wasm32-wasip2, plus the manifest, in $(TARGET_DIR)/handlers.
handlers: deps
	$(CARGO) build --release --target $(WASM_TARGET) $(addprefix -p ,$(HANDLERS) $(TEST_HANDLERS))
	mkdir -p $(TARGET_DIR)/handlers
	cp handlers/geofn.toml $(addprefix $(WASM_OUT)/,$(addsuffix .wasm,$(HANDLERS))) $(TARGET_DIR)/handlers/

build: handlers
	$(CARGO) build --release -p geofn
	@if [ "$(TARGET_DIR)" != target ]; then \
	  mkdir -p target/release target/handlers && \
	  cp $(TARGET_DIR)/release/geofn target/release/geofn && \
	  cp $(TARGET_DIR)/handlers/* target/handlers/; fi

run: build
	target/release/geofn dev --listen $(LISTEN) --handlers target/handlers --data-dir $(DATA_DIR)

lint: deps
	$(CARGO) fmt --all --check
	$(CARGO) clippy -p geofn --all-targets -- -D warnings
	$(CARGO) clippy --target $(WASM_TARGET) $(addprefix -p ,geofn-guest $(HANDLERS) $(TEST_HANDLERS)) -- -D warnings

test: handlers lint
	$(CARGO) test --workspace
