# agentgate: one set of commands for people and CI (.ci/run calls these targets).
#
#   make run     serve the whole system on http://127.0.0.1:8000 (SQLite, demo data)
#   make demo    an agent acting for alice, start to end, narrated (in-process, throwaway DB)
#   make test    the test suite
#   make lint    ruff and mypy
#   make bench   direct call vs the same call through the gateway (writes benchmarks/results.md)
#
# Everything installs itself: a bootstrap venv with a pinned uv in .tools/, then
# .venv/ from uv.lock. A stamp makes a repeated `make` skip the sync until the lock
# (or pyproject.toml) changes.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
SYNCED := $(VENV)/.synced
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=
TEST_JOBS ?= auto
# Our own Python files outside the packages pyproject's [tool.mypy] lists.
MYPY_EXTRA := benchmarks examples tests/support/processes.py

.PHONY: help install run demo test lint bench clean

help:
	@echo "make run | demo | test | lint | bench | install | clean"

# The bootstrap venv: a pinned uv, independent of whatever the machine has.
$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

# Order-only on $(UV): a new bootstrap venv alone does not force a re-sync.
$(SYNCED): uv.lock pyproject.toml | $(UV)
	$(UV) sync --frozen
	@touch $@

install: $(SYNCED)

run: install
	$(BIN)/agentgate serve --host $(HOST) --port $(PORT)

demo: install
	$(BIN)/agentgate demo

# One pytest worker per core (pytest-xdist), a test file to a worker: its module-scoped
# servers start once, and the browser files still run after every other file on their
# worker (tests/conftest.py orders them last). TEST_JOBS=0 runs in this process.
# pytest exits 5 when it collected no test: that fails here too, with a clear word.
test: install
	@status=0; $(BIN)/pytest -n $(TEST_JOBS) --dist loadfile $(PYTEST_ARGS) || status=$$?; \
	if [ $$status -eq 5 ]; then echo "make test: pytest collected no tests" >&2; fi; \
	exit $$status

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/mypy $(MYPY_EXTRA)

bench: install
	@command -v wrk >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; \
	  else echo "make bench needs wrk: apt-get install wrk" >&2; exit 1; fi; }
	$(BIN)/python -m benchmarks.run

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis benchmarks/.run test-results
	find . -name __pycache__ -type d -not -path "./$(TOOLS)/*" -prune -exec rm -rf {} +
