# The two commands a newcomer runs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PYTEST := $(PY) -m pytest $(PYTEST_ARGS)

.PHONY: demo test test-postgres test-sqlite venv migrate clean

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

## The whole suite on a throwaway PostgreSQL cluster (when its binaries exist), then on SQLite.
test: venv
	@if $(PY) -c "import sys; from devtools.throwaway_postgres import postgres_bin_dir; sys.exit(postgres_bin_dir() is None)"; then \
		$(MAKE) --no-print-directory test-postgres; \
	else \
		echo "PostgreSQL server binaries (initdb, pg_ctl) not found: running the suite on SQLite only."; \
	fi
	$(MAKE) --no-print-directory test-sqlite

test-postgres: venv
	@echo "== test suite on PostgreSQL =="
	TEST_DB=postgres $(PYTEST)

test-sqlite: venv
	@echo "== test suite on SQLite =="
	TEST_DB=sqlite $(PYTEST)

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis
