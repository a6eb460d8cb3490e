# gomodproxy: two commands for users (make serve, make test) and a few for developers.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: serve test lint unit conformance bench fuzz sysdeps oracle clean

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

lint: $(STAMP)
	$(BIN)/ruff check src tests bench tools
	$(BIN)/ruff format --check src tests bench tools
	$(BIN)/mypy

test: $(STAMP) sysdeps lint oracle
	$(BIN)/python -m pytest $(PYTEST_ARGS)

unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit tests/property $(PYTEST_ARGS)

conformance: $(STAMP) oracle
	GOMODPROXY_CONFORMANCE_SCALE=50 $(BIN)/python -m pytest tests/differential $(PYTEST_ARGS)

bench: $(STAMP) sysdeps
	$(BIN)/python -m bench

FUZZ_SECONDS ?= 300
FUZZ_TARGETS := request_path gomod zip_check meta_tags note tile

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
