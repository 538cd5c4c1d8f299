# django-tokenkit developer commands.
#
#   make demo    run the example project on http://127.0.0.1:8000/
#   make test       lint, typecheck, docs, then the test suite twice
#                   (SQLite + local memory, then PostgreSQL + Redis) under
#                   coverage, failing below the coverage floor
#   make test-fast  lint and the SQLite half without the end-to-end tests
#
# Every target creates .venv on first use (and reinstalls when pyproject.toml
# changes), so a fresh checkout needs nothing but python3 with venv and pip.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# `make test` runs its steps in the order they are listed, even with -j.
.NOTPARALLEL:

.PHONY: help demo test test-fast lint format typecheck docs test-js test-embedded test-services \
	coverage bench clean

help:
	@echo "make demo           run the example project on http://127.0.0.1:8000/"
	@echo "make test           lint, typecheck, docs, test-embedded, test-services, coverage"
	@echo "make test-fast      lint, then test-embedded without the multi-process"
	@echo "                    end-to-end tests (marker e2e): the loop while editing"
	@echo "make lint           ruff check + ruff format --check"
	@echo "make format         ruff format + ruff check --fix"
	@echo "make typecheck      mypy (strict) on django_tokenkit and tests"
	@echo "make docs           build docs/ with warnings as errors"
	@echo "make test-js        unit tests of tokenkit.js (node --test, no npm packages)"
	@echo "make test-embedded  pytest on SQLite + local-memory cache"
	@echo "make test-services  pytest on PostgreSQL + Redis (skipped if unreachable,"
	@echo "                    an error with TOKENKIT_REQUIRE_SERVICES=1)"
	@echo "make coverage       combine both halves' coverage; fail under the floor"
	@echo "                    (fail_under in pyproject.toml) when both halves ran"
	@echo "make bench          tokenkit vs simplejwt and knox (BENCH_ARGS=--quick: smoke run)"
	@echo "make clean          remove build output and caches (keeps .venv)"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -U pip
	$(BIN)/pip install -e '.[dev]'
	touch $@

demo: $(STAMP)
	cd example_project && ../$(BIN)/python manage.py migrate --noinput
	cd example_project && ../$(BIN)/python manage.py demo_users
	cd example_project && ../$(BIN)/python manage.py runserver 127.0.0.1:8000

test: lint typecheck docs test-js test-embedded test-services coverage

# The edit-test loop: no typecheck, docs, coverage or gunicorn servers.
# Tests run in random order (pytest-randomly); the seed is printed at the
# top, and `-p randomly --randomly-seed=N` (PYTEST_ARGS) replays an order.
PYTEST_ARGS ?=
test-fast: lint $(STAMP)
	env -u DATABASE_URL -u REDIS_URL $(BIN)/python -m pytest -m "not e2e" $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: $(STAMP)
	$(BIN)/mypy django_tokenkit tests

docs: $(STAMP)
	$(BIN)/sphinx-build -W --keep-going -b html docs docs/_build/html

# Node's own test runner: tokenkit.js needs no npm package, nor do its tests.
test-js:
	node --test --test-timeout=30000 tests/js/

# `python -m pytest` puts the repository root on sys.path, so the settings
# module tests.settings imports. pytest's own exit status is the recipe's:
# 5 ("no tests collected") fails the build like any other non-zero status.
# Each half writes its own coverage data file; `make coverage` combines them.
COVERAGE_OPTS := --cov --cov-report= --cov-fail-under=0

test-embedded: $(STAMP)
	rm -f .coverage.embedded
	env -u DATABASE_URL -u REDIS_URL COVERAGE_FILE=.coverage.embedded \
		$(BIN)/python -m pytest $(COVERAGE_OPTS) $(PYTEST_ARGS)

# tests/services_gate.py checks that PostgreSQL and Redis answer, then runs pytest
# against them. DATABASE_URL and REDIS_URL default to the local services
# (postgres://postgres@127.0.0.1:5432/tokenkit, redis://127.0.0.1:6379/1).
# When they don't answer it prints a SKIPPED line and exits 0, or exits 1
# when TOKENKIT_REQUIRE_SERVICES=1 (as CI sets it).
test-services: $(STAMP)
	rm -f .coverage.services
	COVERAGE_FILE=.coverage.services \
		$(BIN)/python -m tests.services_gate -- $(BIN)/python -m pytest $(COVERAGE_OPTS) $(PYTEST_ARGS)

# Branch coverage of django_tokenkit over both halves. The floor applies only
# when both ran (CI requires the services half): the SQLite half alone leaves
# the PostgreSQL- and Redis-only paths uncovered.
coverage: $(STAMP)
	@if [ -f .coverage.embedded ] && [ -f .coverage.services ]; then \
		$(BIN)/coverage combine --keep .coverage.embedded .coverage.services \
		&& $(BIN)/coverage report --skip-covered; \
	else \
		echo "coverage: SKIPPED: one half did not run, so the floor is not checked."; \
	fi

# Installs the contenders (the `bench` extra) and, when it can, wrk; then
# runs benchmarks/run.py against PostgreSQL and Redis on 127.0.0.1 (see
# benchmarks/README.md). BENCH_ARGS=--quick for a short smoke run. Without
# wrk the Python load generator is used, and the results say so.
BENCH_STAMP := $(VENV)/.installed-bench
BENCH_ARGS ?=

$(BENCH_STAMP): $(STAMP) pyproject.toml
	$(BIN)/pip install -e '.[dev,bench]'
	touch $@

bench: $(BENCH_STAMP)
	@command -v wrk >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
		&& { apt-get install -y -q wrk >/dev/null 2>&1 \
		|| { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q wrk >/dev/null 2>&1; }; }; } \
		|| echo "wrk is not installed: the Python load generator will be used."
	$(BIN)/python -m benchmarks.run $(BENCH_ARGS)

clean:
	rm -rf docs/_build build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache .coverage \
		.coverage.* htmlcov
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
