# nue-ns: every target runs from the project's own virtualenv (.venv), made on first use.
# Without NUE_NS_DATABASE_URL / NUE_NS_REDIS_URL, PostgreSQL and Redis run embedded under .nue-ns/
# (NUE_NS_STATE_DIR) and keep running between commands; `make stop` ends them.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
STATE_DIR := $(or $(NUE_NS_STATE_DIR),.nue-ns)

.DEFAULT_GOAL := help

.PHONY: chromium
.PHONY: help venv schema demo test test-unit chaos bench lint format worker beat api sandbox flower stop clean distclean

help:  ## list the targets
	@grep -E '^[a-z. -]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

# The stamp is newer than pyproject.toml once its dependencies are installed; editing it reinstalls.
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "nue-ns needs Python 3.11+: run make PYTHON=python3.11 ..." >&2; exit 1; }
	$(PYTHON) -m venv $(VENV) \
		|| { echo "python3 -m venv failed (on Debian/Ubuntu: apt-get install python3-venv)" >&2; exit 1; }
	$(BIN)/pip install -e '.[dev]'
	@touch $@

venv .venv: $(STAMP)  ## create .venv and install nue-ns with its dev tools

demo: $(STAMP)  ## sandbox NetSuite + worker + beat, a sample batch, a hub summary
	$(BIN)/nue-ns demo

test: $(STAMP) chromium  ## the test suite, without the slow chaos suites
	$(BIN)/pytest -q -m "not slow"

test-unit: $(STAMP)  ## the tests that need no server (in-memory fakes), under a minute
	$(BIN)/pytest -q -m "unit and not slow"

# The hub UI is tested in a real browser: Debian's chromium, driven headless by Playwright (which
# never downloads a browser of its own). Installed with apt when missing and we are root.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "installing Debian's chromium for the browser test"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		else \
			echo "the browser test needs chromium on PATH (e.g. sudo apt-get install chromium)" >&2; exit 1; \
		fi; }

chaos: $(STAMP)  ## the slow suites: kills workers, Redis and PostgreSQL mid-run
	$(BIN)/pytest -q -m slow

bench: $(STAMP)  ## every benchmark (docs/BENCHMARKS.md), ~15 min; one: make bench-governor etc.
	$(BIN)/python -m bench

BENCHES := calls_per_record governor fairness scale ingestion sweep overhead
.PHONY: $(addprefix bench-,$(BENCHES))
$(addprefix bench-,$(BENCHES)): bench-%: $(STAMP)  # bench-calls_per_record, bench-governor, bench-fairness, ...
	$(BIN)/python -m bench $*

lint: $(STAMP)  ## ruff check and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)  ## apply ruff fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

worker: $(STAMP)  ## a Celery worker
	$(BIN)/nue-ns worker

beat: $(STAMP)  ## celery beat (sweeps, inbound poll)
	$(BIN)/nue-ns beat

api: $(STAMP)  ## the producer API and the Transaction Hub web UI
	$(BIN)/nue-ns api

sandbox: $(STAMP)  ## the NetSuite REST emulator
	$(BIN)/nue-ns sandbox

flower: $(STAMP)  ## Flower, behind basic auth (FLOWER_BASIC_AUTH=user:password)
	@if [ -z "$${FLOWER_BASIC_AUTH:-}" ]; then \
		echo "WARNING: FLOWER_BASIC_AUTH is not set; using admin:change-me. Set it before exposing Flower." >&2; \
	fi
	$(BIN)/celery -A nue_ns.tasks flower --basic-auth="$${FLOWER_BASIC_AUTH:-admin:change-me}"

schema:  ## re-derive nue_ns/sandbox/schema/ from ../shared/netsuite's OpenAPI document
	$(PYTHON) scripts/derive_netsuite_schema.py

stop:  ## stop the embedded PostgreSQL and Redis
	@if [ -x $(BIN)/python ]; then $(BIN)/python -m nue_ns.embedded stop; fi

clean: stop  ## stop embedded servers, delete their data and caches
	rm -rf "$(STATE_DIR)" build .pytest_cache .ruff_cache .hypothesis
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
	find . -path ./$(VENV) -prune -o -name '*.egg-info' -type d -prune -exec rm -rf {} +

distclean: clean  ## clean, and delete .venv too
	rm -rf $(VENV)
