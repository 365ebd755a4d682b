"""The predicates callers ask instead of reading the database vendor: each true on PostgreSQL, false on SQLite."""

import os

import pytest
from django.db import connection

from engines.db.features import has_concurrent_writers, is_postgresql, skips_locked_rows

# The database settings are switched to the run's database with the test database.
pytestmark = pytest.mark.django_db

POSTGRESQL = os.environ.get("TEST_DB", "sqlite").lower() == "postgres"


def test_is_postgresql_names_the_database_in_use():
    assert is_postgresql() is POSTGRESQL
    assert is_postgresql("default") is POSTGRESQL


def test_rows_locked_by_another_claimer_are_skipped_on_postgresql_only():
    assert skips_locked_rows() is POSTGRESQL
    assert skips_locked_rows() is connection.features.has_select_for_update_skip_locked


def test_several_connections_write_at_once_on_postgresql_only():
    assert has_concurrent_writers() is POSTGRESQL
