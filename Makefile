# Thin wrappers over the `medallion` CLI. The first target that needs Python
# builds .venv from uv.lock (uv itself is bootstrapped from PyPI with pip).
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.9
BOOTSTRAP := .local/bootstrap
UV ?= $(BOOTSTRAP)/bin/uv
VENV := .venv
STAMP := $(VENV)/.synced
MEDALLION := $(VENV)/bin/medallion
SOURCE ?=

.PHONY: help venv system-deps run test lint act docs airflow screenshots bench bench-scheduler bench-sf100 diff clean

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(UV):
	$(PYTHON) -m venv $(BOOTSTRAP)
	$(BOOTSTRAP)/bin/pip install --quiet "uv==$(UV_VERSION)"

$(STAMP): uv.lock pyproject.toml | $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	@touch $@

venv: $(STAMP) ## create .venv from the lock (idempotent)

system-deps: ## Debian packages the tests need (chromium, unixodbc, node, postgresql, redis)
	@bash scripts/install_system_deps.sh

run: venv ## load data (synthetic SF1, or SOURCE=dir) and run the pipeline through the DAG (FULL_REFRESH=1)
	$(MEDALLION) run $(if $(SOURCE),--source "$(SOURCE)") $(if $(FULL_REFRESH),--full-refresh)

# Under CI a missing browser or real export fails the run instead of skipping tests.
export MEDALLION_REQUIRE ?= $(if $(CI),chromium$(comma)real-data)
comma := ,

test: venv system-deps ## run the whole test suite (pytest's exit 5, "no tests ran", is a failure)
	@$(VENV)/bin/python -m pytest -n 2 --dist loadgroup --no-loadscope-reorder --durations=15 $(PYTEST_ARGS); status=$$?; \
	if [ $$status -eq 5 ]; then echo "error: pytest collected no tests" >&2; exit 1; fi; exit $$status

lint: venv system-deps ## pre-commit on every file (ruff, sqlfluff, yaml, actionlint, zizmor)
	$(VENV)/bin/pre-commit run --all-files --show-diff-on-failure

act: venv ## run a GitHub workflow locally under act (WORKFLOW=pipeline.yml EVENT=workflow_dispatch JOB=)
	$(VENV)/bin/python -m medallion.devtools.act $(or $(WORKFLOW),pipeline.yml) --event $(or $(EVENT),workflow_dispatch) $(if $(JOB),--job $(JOB))

diff: venv ## what the working tree's dbt changes do to the data, against the merge base with BASE (origin/main)
	$(MEDALLION) diff --base $(or $(BASE),origin/main) $(if $(SOURCE),--source "$(SOURCE)")

docs: venv ## dbt docs (static site with lineage) into .local/docs
	$(MEDALLION) docs

airflow: venv ## local Airflow 3.3 with its UI (Ctrl-C stops it; PORT=8080, UNPAUSE=1)
	$(MEDALLION) airflow $(if $(PORT),--port $(PORT)) $(if $(UNPAUSE),--unpause)

screenshots: venv system-deps ## regenerate docs/*.png from the UI tests (real Airflow + Chromium)
	MEDALLION_UPDATE_SCREENSHOTS=1 $(VENV)/bin/python -m pytest -m ui tests/ui

bench: venv ## benchmark harness: writes bench/results.json and docs/PERFORMANCE.md
	$(MEDALLION) bench

bench-scheduler: venv ## the benchmark under a running scheduler: bench/scheduler/ and its section of docs/PERFORMANCE.md
	$(MEDALLION) bench --scheduler

bench-sf100: venv ## the hourly cost at SF 1, 10 and 100: bench/hourly/ and its section of docs/PERFORMANCE.md
	$(MEDALLION) bench --sf100

clean: ## remove local state (warehouse, artifacts, Airflow home); keeps .venv
	rm -rf .local/warehouse.duckdb* .local/artifacts .local/airflow .local/reports
