# nue-ns: every target runs from the project's own virtualenv (.venv), made on first use.
# Without NUE_NS_DATABASE_URL / NUE_NS_REDIS_URL, PostgreSQL and Redis run embedded under .nue-ns/
# (NUE_NS_STATE_DIR) and keep running between commands; `make stop` ends them.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STATE_DIR := $(or $(NUE_NS_STATE_DIR),.nue-ns)
INSTALL_LOG := $(STATE_DIR)/logs/install.log
# Each stamp is newer than pyproject.toml once its part is installed; editing pyproject reinstalls.
RUN := $(VENV)/.installed-run
DEV := $(VENV)/.installed-dev
FLOWER := $(VENV)/.installed-flower

.DEFAULT_GOAL := help

.PHONY: chromium
.PHONY: help venv schema demo test test-unit chaos bench lint format worker beat api sandbox flower stop clean distclean

help:  ## list the targets
	@grep -E '^[a-z. -]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

# pip install, quietly: one line here, pip's output in $(INSTALL_LOG), shown only when it fails.
define pip_install
	@mkdir -p "$(dir $(INSTALL_LOG))"
	@echo "installing $(2) into $(VENV) (pip log: $(INSTALL_LOG))"
	@$(BIN)/pip install -q --disable-pip-version-check -e '.[$(1)]' >>"$(INSTALL_LOG)" 2>&1 \
		|| { tail -n 40 "$(INSTALL_LOG)" >&2; echo "pip install failed; full log: $(INSTALL_LOG)" >&2; exit 1; }
	@touch $@
endef

$(VENV)/bin/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "nue-ns needs Python 3.11+: run make PYTHON=python3.11 ..." >&2; exit 1; }
	@$(PYTHON) -m venv $(VENV) \
		|| { echo "python3 -m venv failed (on Debian/Ubuntu: apt-get install python3-venv)" >&2; exit 1; }

$(RUN): pyproject.toml | $(VENV)/bin/python
	$(call pip_install,embedded,nue-ns with what running needs (embedded PostgreSQL and Redis included))

$(DEV): pyproject.toml $(RUN)
	$(call pip_install,dev,the dev tools: pytest ruff playwright fakeredis hypothesis Flower ...)

$(FLOWER): pyproject.toml $(RUN)
	$(call pip_install,flower,Flower)

venv .venv: $(DEV)  ## create .venv and install nue-ns with its dev tools

demo: $(RUN)  ## sandbox NetSuite + worker + beat, a sample batch, a hub summary
	@$(BIN)/nue-ns demo

test: $(DEV) chromium  ## the test suite, without the slow chaos suites
	$(BIN)/pytest -q -m "not slow"

test-unit: $(DEV)  ## the tests that need no server (in-memory fakes), under a minute
	$(BIN)/pytest -q -m "unit and not slow"

# The hub UI is tested in a real browser driven headless by Playwright (which never downloads one of its
# own): chromium or Google Chrome from PATH; only when there is none, and we are root on Debian/Ubuntu,
# Debian's chromium is installed, without recommended packages (README: what `make test` installs).
BROWSERS := chromium chromium-browser google-chrome google-chrome-stable
chromium:
	@for b in $(BROWSERS); do command -v $$b >/dev/null 2>&1 && exit 0; done; \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "installing Debian's chromium for the browser test (apt-get, --no-install-recommends)"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
				apt-get install -y -qq --no-install-recommends chromium >/dev/null; \
		else \
			echo "the browser test needs chromium or google-chrome on PATH (e.g. sudo apt-get install --no-install-recommends chromium)" >&2; exit 1; \
		fi

chaos: $(DEV)  ## the slow suites (~15 min): chaos runs, the OAuth 2.0 chaos, the CLI bad-input corpus, long months
	$(BIN)/pytest -q -m slow

bench: $(DEV)  ## every benchmark (docs/BENCHMARKS.md), ~15 min; one: make bench-governor etc.
	$(BIN)/python -m bench

BENCHES := calls_per_record governor fairness scale ingestion sweep overhead burst batches
.PHONY: $(addprefix bench-,$(BENCHES))
$(addprefix bench-,$(BENCHES)): bench-%: $(DEV)  # bench-calls_per_record, bench-governor, bench-fairness, ...
	$(BIN)/python -m bench $*

lint: $(DEV)  ## ruff check and format check, import rules (import-linter), types (mypy)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

format: $(DEV)  ## apply ruff fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

worker: $(RUN)  ## a Celery worker
	$(BIN)/nue-ns worker

beat: $(RUN)  ## celery beat (sweeps, inbound poll)
	$(BIN)/nue-ns beat

api: $(RUN)  ## the producer API and the Transaction Hub web UI
	$(BIN)/nue-ns api

sandbox: $(RUN)  ## the NetSuite REST emulator
	$(BIN)/nue-ns sandbox

flower: $(FLOWER)  ## Flower, behind basic auth (FLOWER_BASIC_AUTH=user:password)
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
