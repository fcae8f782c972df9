# gongzhi 共治 — the two commands of the README, and the pieces they are made of.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: demo test install lint format typecheck migrations pytest pytest-sqlite pytest-postgresql serve bench lock clean

demo: install ## create var/gongzhi.db with the demo regions and serve on 127.0.0.1:8000
	$(BIN)/gongzhi demo

test: install lint typecheck migrations pytest ## every check CI runs

$(BIN)/python:
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "gongzhi needs Python 3.11 or newer"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml requirements.lock | $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c requirements.lock -e '.[dev,cluster]'
	touch $(STAMP)

install: $(STAMP)

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
	rm -rf $(VENV) var build *.egg-info .pytest_cache .mypy_cache .ruff_cache
