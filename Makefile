# The two commands of the README: `make demo` runs the job on the embedded default (sandbox +
# DuckDB), `make test` runs the whole suite. Both set up .venv from pinned versions first.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | cksum | cut -d' ' -f1)

.PHONY: demo test ui bench install clean

# --no-compile: pip would byte-compile every installed module (about half the install's CPU); Python
# compiles, and caches, only the modules a process imports, the first time it imports them. That
# cache needs bytecode writing on: a machine that sets PYTHONDONTWRITEBYTECODE (CI images often do)
# would otherwise compile Dagster anew in every process (about 3 CPU-s more each: 2.2 -> 5.4 CPU-s
# to import the definitions), and the suite starts hundreds of them.
unexport PYTHONDONTWRITEBYTECODE
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q --no-compile -c constraints.txt -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

## Run today's partition (America/Chicago) of all four assets against the built-in sandbox.
demo: $(STAMP)
	$(BIN)/python scripts/demo.py

## The whole test suite (what CI runs), spread over TEST_WORKERS pytest-xdist workers a module at a time: most tests
## wait on subprocesses (dagster runs, daemons), so more workers than cores pay (docs/operations.md, "Tests").
## Tests marked `cadence` time the job's own promises and run afterwards, alone (4 workers on 2 cores starve them).
TEST_WORKERS ?= 5
test: $(STAMP)
	bash scripts/test_setup.sh
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadscope -p esg_assets_tests.support.module_order -m "not cadence"
	$(BIN)/python -m pytest -m cadence

## The Dagster UI and daemon on 127.0.0.1:3000, with the sandbox behind them.
ui: $(STAMP)
	$(BIN)/python scripts/demo.py --ui

## Performance figures against the sandbox (docs/benchmarks.md); BENCH_ARGS="--accounts 20000 --only B1,B4 --skip-1m".
bench: $(STAMP)
	$(BIN)/python -m bench.run $(BENCH_ARGS)

clean:
	rm -rf .demo .dagster_home
