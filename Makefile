# The two set-up commands of the README:
#   make demo   venv + install + embedded Postgres + seed + every migration DAG, in order, + report
#   make test   venv + install + a Postgres to test against + the whole test suite
#   make lint   ruff (format, rules) and mypy, as CI runs them before the tests
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_ROWS ?= 200000
PYTEST_ARGS ?=

.PHONY: demo test lint airflow airflow-cluster venv benchmarks embedded-stop clean contract

$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	@touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/python scripts/demo.py --rows $(DEMO_ROWS)

test: $(STAMP)
	@bash scripts/ensure_test_tools.sh
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The style held by tools (docs/architecture.md, "Style"): formatting, lint rules incl. Airflow 3's AIR3xx, types.
lint: $(STAMP)
	$(BIN)/ruff format --check include plugins dags tests scripts benchmarks
	$(BIN)/ruff check include plugins dags tests scripts benchmarks
	$(BIN)/mypy

airflow: $(STAMP)
	bash scripts/run_airflow.sh standalone

# CeleryExecutor on loopback: Postgres metadata, Redis, scheduler, dag-processor, triggerer,
# API server and two workers (docs/scaling.md). Ctrl-C stops everything it started.
airflow-cluster: $(STAMP)
	PYTHON=$(BIN)/python bash scripts/run_airflow_cluster.sh

benchmarks: $(STAMP)
	bash benchmarks/run_all.sh

embedded-stop: $(STAMP)
	$(BIN)/activity-migration embedded stop

contract: $(STAMP)
	bash ../shared/tools/contract-check

clean: embedded-stop
	rm -rf .local artifacts
