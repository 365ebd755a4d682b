# The two commands a newcomer runs: `make demo` and `make test`. Then `make run` to look around.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PYTEST := $(PY) -m pytest $(PYTEST_ARGS)

.PHONY: demo test test-postgres test-sqlite lint run bench venv migrate clean

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

migrate: venv
	$(PY) manage.py migrate --noinput

## The main job on the zero-setup SQLite database.
demo: migrate
	$(PY) manage.py demo

## Lint and types, then the whole suite on a throwaway PostgreSQL cluster (when its binaries exist), then on SQLite.
## Without PostgreSQL binaries the PostgreSQL half is skipped loudly; with CI=true that is an error.
test: venv lint
	@if $(PY) -c "import sys; from devtools.throwaway_postgres import postgres_bin_dir; sys.exit(postgres_bin_dir() is None)"; then \
		$(MAKE) --no-print-directory test-postgres; \
	elif [ "$${CI:-}" = "true" ]; then \
		echo "ERROR: PostgreSQL server binaries (initdb, pg_ctl) not found, and CI must test PostgreSQL." >&2; exit 1; \
	else \
		echo ""; \
		echo "!!! WARNING: PostgreSQL server binaries (initdb, pg_ctl) not found: the PostgreSQL half of the suite was SKIPPED."; \
		echo "!!! Install them (Debian: apt-get install postgresql) to run it; running SQLite only."; \
		echo ""; \
	fi
	$(MAKE) --no-print-directory test-sqlite

test-postgres: venv
	@echo "== test suite on PostgreSQL =="
	TEST_DB=postgres $(PYTEST)

test-sqlite: venv
	@echo "== test suite on SQLite =="
	TEST_DB=sqlite $(PYTEST)

## ruff (lint and format) and mypy with django-stubs; configured in pyproject.toml.
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .
	$(VENV)/bin/lint-imports

## The web server and one qcluster worker on the same database; Ctrl-C stops both.
run: migrate
	$(PY) manage.py serve

## Every benchmark in benchmarks/, one table (also written to var/bench/results.json).
bench: venv
	$(PY) -m benchmarks.run_all

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis .mypy_cache .ruff_cache
