# The two commands that matter: `make run` and `make test`. Everything else supports them.
# Only Python >= 3.11 and make are needed: uv is installed into .tools/ on first use, and uv
# builds .venv/ from uv.lock.

SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

export UV_PYTHON_DOWNLOADS := never
export UV_COMPILE_BYTECODE := 1
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: install run test test-sqlite test-postgres lint format bench soak clean

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

$(VENV)/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	@touch $@

install: $(VENV)/.installed

run: install  ## Serve the API on 127.0.0.1:8000 (SQLite file ./conveyor.db by default).
	$(BIN)/conveyor serve

test: test-sqlite test-postgres  ## The whole suite on SQLite, then on PostgreSQL + Redis if configured.

test-sqlite: install
	env -u CONVEYOR_TEST_DATABASE_URL -u CONVEYOR_TEST_REDIS_URL \
		$(BIN)/coverage run -m pytest $(PYTEST_ARGS)
	$(BIN)/coverage combine --quiet
	$(BIN)/coverage report

test-postgres: install
	@if [ -n "$$CONVEYOR_TEST_DATABASE_URL" ]; then \
		echo "== again on PostgreSQL ($$CONVEYOR_TEST_DATABASE_URL) and Redis ($${CONVEYOR_TEST_REDIS_URL:-none})"; \
		$(BIN)/python -m pytest $(PYTEST_ARGS); \
	else \
		echo "CONVEYOR_TEST_DATABASE_URL is not set: PostgreSQL run skipped"; \
	fi

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy src

format: install
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

bench: install  ## Benchmarks (never part of `make test`); results land in bench/results/.
	$(UV) sync --frozen --group bench --python $(PYTHON)
	$(BIN)/python -m bench

soak: install  ## The 10-minute soak on PostgreSQL + Redis (bench/soak.py); fails on errors or growth.
	$(BIN)/python -m bench soak

clean:
	rm -rf $(VENV) $(TOOLS) .pytest_cache .mypy_cache .ruff_cache .coverage .coverage.*
