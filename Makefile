# gongzhi 共治 — the two commands of the README, and the pieces they are made of.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: demo test install dji dji-if-possible kernels lint format typecheck migrations pytest pytest-sqlite pytest-postgresql serve bench lock clean

demo: install ## create var/gongzhi.db with the demo regions and serve on 127.0.0.1:8000
	$(BIN)/gongzhi demo

test: install ## every check CI runs: the checks that need no tests side by side, then the tests
	$(MAKE) --no-print-directory -j4 --output-sync=target lint typecheck migrations dji-if-possible kernels
	$(MAKE) --no-print-directory pytest

$(BIN)/python:
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "gongzhi needs Python 3.11 or newer"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml requirements.lock | $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c requirements.lock -e '.[dev,cluster]'
	touch $(STAMP)

install: $(STAMP)

# DJI R-JPEG temperatures come from dji-thermal-cli (AGPL-3.0, a pure-Python port of DJI's Thermal SDK), which
# needs Python 3.12 or newer: it gets an environment of its own, run as a program (io/dji_thermal_cli.py).
DJI_PYTHON ?= $(shell for p in python3.13 python3.12 $$(ls -d $$(pyenv root 2>/dev/null)/versions/3.1[2-9]*/bin/python3 2>/dev/null); do $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null && { command -v $$p; break; }; done)
DJI_VENV   ?= .venv-dji
DJI_STAMP  := $(DJI_VENV)/.installed

$(DJI_STAMP): requirements-dji.lock
	@test -n "$(DJI_PYTHON)" || { echo "make dji: needs Python 3.12 or newer (python3.12 on PATH, or DJI_PYTHON=…)"; exit 1; }
	$(DJI_PYTHON) -m venv $(DJI_VENV)
	$(DJI_VENV)/bin/python -m pip install -q -r requirements-dji.lock
	touch $(DJI_STAMP)

dji: $(DJI_STAMP) ## dji-thermal-cli for DJI R-JPEG temperatures; .venv finds it beside itself
	@echo "gongzhi finds .venv-dji beside the .venv it runs in; otherwise: export GONGZHI_DJI_THERMAL_CLI=$(CURDIR)/$(DJI_VENV)/bin/dji-thermal-cli"

dji-if-possible: # the DJI tests run with it and skip, saying why, without it
	@$(MAKE) --no-print-directory dji || echo "make test: no dji-thermal-cli (needs Python 3.12+); its tests will be skipped"

# The analysis' compiled loops (numba, cached beside their source): compiled once here, beside mypy, instead
# of in each pytest worker that first analyses a frame (about 38 s of CPU on a fresh checkout).
kernels: install
	$(BIN)/python -c 'import gongzhi.modules.pv.analytics.kernels'

lint:
	$(BIN)/ruff format --check src tests bench scripts
	$(BIN)/ruff check src tests bench scripts

format:
	$(BIN)/ruff format src tests bench scripts
	$(BIN)/ruff check --fix src tests bench scripts

typecheck:
	$(BIN)/mypy

migrations: ## the migrations must produce exactly the models' schema
	$(BIN)/python -m gongzhi.migrate_check

# Each leg runs on WORKERS pytest-xdist processes, each with a database of its own (tests/conftest.py);
# worksteal hands a worker that runs dry the tail of another's share. WORKERS=0 runs a leg in one process.
WORKERS ?= 2
PYTEST  := $(BIN)/pytest -q -p no:cacheprovider -n $(WORKERS) --dist worksteal

pytest: pytest-sqlite pytest-postgresql

pytest-sqlite:
	GONGZHI_TEST_DB=sqlite $(PYTEST)

pytest-postgresql:
	GONGZHI_TEST_DB=postgresql $(PYTEST)

serve: install
	$(BIN)/gongzhi serve

bench: install ## the case loop over HTTP against a bare insert (figures only; see bench/README.md)
	$(BIN)/python bench/cases/run.py

lock: ## re-pin requirements.lock to what pyproject.toml needs, as installed in the venv
	$(BIN)/python scripts/lock.py

clean:
	rm -rf $(VENV) $(DJI_VENV) var build *.egg-info .pytest_cache .mypy_cache .ruff_cache
