# leadvibe-contracts: `make mock` and `make test` are the whole set-up on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 4010
MOCK_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help install mock test test-live lint format bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

# The virtual environment is (re)built whenever the dependency pins change.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) ## Create .venv and install the project with its dev dependencies

mock: $(STAMP) ## Serve the mock on http://$(HOST):$(PORT) (HOST=, PORT=, MOCK_ARGS= to change)
	$(BIN)/leadvibe-mock --host $(HOST) --port $(PORT) $(MOCK_ARGS)

lint: $(STAMP) ## ruff and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint ## Lint, then the whole offline suite (spec, mock, conformance gate against the mock)
	env -u LEADVIBE_TARGET $(BIN)/pytest

test-live: $(STAMP) ## The conformance suite against LEADVIBE_BASE_URL (see README)
	$(BIN)/leadvibe-contracts

format: $(STAMP) ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP) ## Throughput and latency of the mock beside Prism (README, Performance)
	$(BIN)/python -m bench

clean: ## Remove the environment, caches and reports
	rm -rf $(VENV) .hypothesis .schemathesis .pytest_cache .mypy_cache .ruff_cache reports bench/.cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
