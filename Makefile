# gomodproxy: two commands for users (make serve, make test) and a few for developers.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: serve test coverage lint unit conformance bench fuzz sysdeps oracle minio minio-start clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

serve: $(STAMP)
	$(BIN)/gomodproxy serve

sysdeps:
	@bash tools/sysdeps.sh

oracle: $(STAMP)
	@bash tools/build-oracle.sh >/dev/null

# MinIO for the S3 storage tests: built once from the Go module proxy and cached outside the
# tree (tools/minio.sh). make test starts the build first and waits for it just before the
# tests that need it, so on a fresh machine it overlaps lint, the oracle build and the
# coverage gate instead of adding its minutes to them.
minio:
	@bash tools/minio.sh >/dev/null

minio-start:
	@bash tools/minio.sh start

lint: $(STAMP)
	$(BIN)/ruff check src tests bench tools
	$(BIN)/ruff format --check src tests bench tools
	$(BIN)/mypy
	$(BIN)/lint-imports --no-logo --no-cache

# The Go-free tests of the pure core run first, under the gate "100% branch coverage of
# gomod/", and are left out of the main run, so no test runs twice. Measured on 2 cores:
# tracing only these adds ~17 s (13 s -> 30 s); tracing the whole suite instead doubles the
# time of every CPU-bound test, and running them twice would add ~30 s.
# GOMODPROXY_CORE_WITHOUT_GO makes any call of the Go oracle from these tests fail.
# With PYTEST_ARGS (a subset chosen by hand) make test runs just that, without the gate.
CORE_TESTS := $(sort $(wildcard tests/unit/test_semver.py tests/unit/test_module.py \
	tests/unit/test_pseudo.py tests/unit/test_globs.py tests/unit/test_goenv*.py \
	tests/unit/test_modfile.py tests/unit/test_modgraph.py tests/unit/test_modzip.py tests/unit/test_dirhash.py \
	tests/unit/test_zipfiles.py tests/unit/test_direct_coderepo.py tests/unit/test_purity.py \
	tests/unit/test_gomod_coverage_*.py tests/property/test_*_props.py))
COV_GATE := --cov=gomodproxy.gomod --cov-branch --cov-report=term-missing:skip-covered \
	--cov-fail-under=100

test: minio-start $(STAMP) sysdeps lint oracle
ifeq ($(strip $(PYTEST_ARGS)),)
	GOMODPROXY_NO_SKIP=1 GOMODPROXY_CORE_WITHOUT_GO=1 $(BIN)/python -m pytest -q $(CORE_TESTS) $(COV_GATE)
	@bash tools/minio.sh wait >/dev/null
	GOMODPROXY_NO_SKIP=1 $(BIN)/python -m pytest $(addprefix --ignore=,$(CORE_TESTS))
else
	@bash tools/minio.sh wait >/dev/null
	$(BIN)/python -m pytest $(PYTEST_ARGS)
endif

# Just the coverage gate of gomod/ (seconds, no Go needed).
coverage: $(STAMP)
	GOMODPROXY_CORE_WITHOUT_GO=1 $(BIN)/python -m pytest -q $(CORE_TESTS) $(COV_GATE) $(PYTEST_ARGS)

unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit tests/property $(PYTEST_ARGS)

# 50x the generated cases: one test may take many minutes, hence the longer timeout.
conformance: $(STAMP) oracle
	GOMODPROXY_CONFORMANCE_SCALE=50 $(BIN)/python -m pytest tests/differential --timeout=3600 \
		$(PYTEST_ARGS)

bench: $(STAMP) sysdeps minio
	$(BIN)/python -m bench

FUZZ_SECONDS ?= 300
FUZZ_TARGETS := request_path request_key redaction gomod zip_check meta_tags note tile

fuzz: $(STAMP)
	$(BIN)/pip install --quiet -e '.[fuzz]'
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p fuzz/corpus/$$t fuzz/crashes; \
	  echo "fuzz: $$t for $(FUZZ_SECONDS)s"; \
	  $(BIN)/python fuzz/run.py $$t fuzz/corpus/$$t -max_total_time=$(FUZZ_SECONDS) \
	    -timeout=10 -rss_limit_mb=2048 -artifact_prefix=fuzz/crashes/ || exit 1; \
	done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build
