"""Test database selection: TEST_DB=postgres runs the suite on a throwaway
PostgreSQL cluster started here; anything else uses a SQLite file in a temporary
folder (a file, not memory, so a `qcluster` subprocess can open the same database)."""

import os

import pytest

from devtools.throwaway_postgres import throwaway_postgres

TEST_DB = os.environ.get("TEST_DB", "sqlite").lower()


def pytest_report_header(config):
    return f"test database: {TEST_DB}"


@pytest.fixture(scope="session")
def django_db_modify_db_settings(tmp_path_factory):
    from django.conf import settings
    from django.db import connections

    if TEST_DB != "postgres":
        # In place, like below: the connection handler may already hold this TEST dict.
        test_settings = settings.DATABASES["default"].setdefault("TEST", {})
        test_settings["NAME"] = str(tmp_path_factory.mktemp("sqlite") / "test.sqlite3")
        yield
        return

    with throwaway_postgres() as cluster:
        database = settings.DATABASES["default"]
        # Update in place: pytest-django already holds this dict (and its TEST entry).
        database.update(
            ENGINE="django.db.backends.postgresql",
            NAME=cluster.name,
            USER=cluster.user,
            PASSWORD="",
            HOST=cluster.host,
            PORT=str(cluster.port),
            OPTIONS={},
        )
        del connections["default"]
        yield
