# leadvibe-contracts: `make mock` and `make test` are the whole set-up on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 4010
MOCK_ARGS ?=
PIP_INSTALL := $(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt
# One stamp per role: the mock needs only the base dependencies, everything else the dev extra.
MOCK_STAMP := $(VENV)/.installed-mock
DEV_STAMP := $(VENV)/.installed-dev
# The pin of uv, read from pyproject.toml's dev extra so that it is written in one place only.
UV_PIN := $(shell grep -oE '"uv==[^"]+"' pyproject.toml | tr -d '"')

.DEFAULT_GOAL := help
.PHONY: help install mock proxy record replay test test-fast test-live lint lint-spec format bench constraints clean check-compat

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

# The virtual environment is (re)installed whenever the dependency pins change.
$(MOCK_STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) -e .
	@touch $@

$(DEV_STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) -e '.[dev]'
	@touch $@ $(MOCK_STAMP)

install: $(DEV_STAMP) ## Create .venv and install the project with its dev dependencies

mock: $(MOCK_STAMP) ## Serve the mock on http://$(HOST):$(PORT) (HOST=, PORT=, MOCK_ARGS= to change)
	$(BIN)/leadvibe-mock --host $(HOST) --port $(PORT) $(MOCK_ARGS)

UPSTREAM ?=
proxy: $(MOCK_STAMP) ## The validating proxy to UPSTREAM= on http://$(HOST):$(PORT) (docs/proxy.md)
	@test -n '$(UPSTREAM)' || { echo 'make proxy: set UPSTREAM=https://staging.example.com'; exit 2; }
	$(BIN)/leadvibe-mock --host $(HOST) --port $(PORT) --proxy '$(UPSTREAM)' $(MOCK_ARGS)

RECORDING ?= recordings/latest
record: $(MOCK_STAMP) ## The proxy to UPSTREAM=, recording to RECORDING= (default recordings/latest; docs/recording.md)
	@test -n '$(UPSTREAM)' || { echo 'make record: set UPSTREAM=https://staging.example.com'; exit 2; }
	$(BIN)/leadvibe-mock --host $(HOST) --port $(PORT) --proxy '$(UPSTREAM)' --record '$(RECORDING)' $(MOCK_ARGS)

TARGET ?=
replay: $(DEV_STAMP) ## Replay RECORDING= against TARGET= (the mock, or staging read-only) as contracts
	@test -n '$(TARGET)' || { echo 'make replay: set TARGET=http://127.0.0.1:4010 RECORDING=DIR'; exit 2; }
	$(BIN)/python -m contracts.replay --target '$(TARGET)' --recording '$(RECORDING)'

lint: lint-spec ## ruff and mypy, after lint-spec
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Spectral (spectral:oas + OWASP) and Redocly from npm, installed into .cache/npm-tools on first use.
lint-spec: $(DEV_STAMP) ## Lint openapi.yaml: Spectral (.spectral.yaml) and Redocly (redocly.yaml)
	$(BIN)/python -m devtools.lint_spec

# pytest-xdist: test modules spread over WORKERS processes, each module whole on one worker (its fixtures built once),
# handed out in collection order (contracts/, then tests/: the longest modules come first), not by test count.
# make test's many servers and processes wait a lot, so 4 workers on 2 cores; make test-fast's in-process tests
# only compute, so 2 (each worker costs about 3 s of CPU to start).
WORKERS ?= 4
FAST_WORKERS ?= 2
PYTEST := env -u LEADVIBE_TARGET $(BIN)/pytest --dist loadscope --no-loadscope-reorder

test: lint ## Lint, then the whole offline suite (spec, mock, conformance gate against the mock)
	$(PYTEST) -n $(WORKERS)

# The inner loop: in-process tests only (no server, process or browser), the gate at 5 examples per operation.
test-fast: $(DEV_STAMP) ## The in-process tests, no lint: what `make test` adds is marked slow
	LEADVIBE_MAX_EXAMPLES=5 $(PYTEST) -n $(FAST_WORKERS) -m "not slow"

test-live: $(DEV_STAMP) ## The conformance suite against LEADVIBE_BASE_URL (docs/live-gate.md)
	$(BIN)/leadvibe-contracts

# BASE= a git ref or a file; empty: the merge base of HEAD with main (spec_compat/base.py).
BASE ?=
check-compat: $(MOCK_STAMP) ## Breaking changes of openapi.yaml against BASE (default: the merge base with main)
	$(BIN)/python -m spec_compat --base '$(BASE)'

format: $(DEV_STAMP) ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(DEV_STAMP) ## Throughput and latency of the mock beside Prism (docs/measurements.md)
	$(BIN)/python -m bench

# Pins the whole tree (base, contracts and dev) for Python 3.11 from pyproject.toml's pins. The pins
# already in constraints.txt are kept where pyproject.toml allows them (uv reads the file it writes);
# `make constraints UV_ARGS=--upgrade` moves the transitive ones to their latest releases.
constraints: ## Regenerate constraints.txt from pyproject.toml (uv pip compile)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check '$(UV_PIN)'
	$(BIN)/uv pip compile --quiet --no-header --extra dev --python-version 3.11 $(UV_ARGS) \
		-o constraints.txt pyproject.toml
	{ echo '# Exact versions of the whole dependency tree (base, contracts and dev), for'; \
	  echo "# 'pip install -c constraints.txt'. GENERATED by 'make constraints' (uv pip compile --extra dev"; \
	  echo '# pyproject.toml) from the pins in pyproject.toml: edit those, then rerun; never edit this file.'; \
	  cat constraints.txt; } > constraints.txt.tmp
	mv constraints.txt.tmp constraints.txt

clean: ## Remove the environment, caches and reports
	rm -rf $(VENV) .hypothesis .schemathesis .pytest_cache .mypy_cache .ruff_cache reports bench/.cache .cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
