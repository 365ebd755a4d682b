"""A cursor whose statements PostgreSQL may prepare, on both databases."""

import pytest
from django.db import DatabaseError, connection, transaction
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext

from engines.db import statements
from engines.db.contact import contact_states
from engines.db.statements import statement_cursor
from tests.factories import ScheduledTouchFactory

pytestmark = pytest.mark.django_db


def test_it_runs_statements_and_translates_errors_into_djangos():
    with statement_cursor(connection) as cursor:
        cursor.execute("SELECT %s + 1", [41])
        assert cursor.fetchone()[0] == 42
    with pytest.raises(DatabaseError), statement_cursor(connection) as cursor:
        cursor.execute("SELECT * FROM no_such_table")


def test_one_server_binding_cursor_is_kept_per_postgresql_connection():
    with statement_cursor(connection) as cursor:
        cursor.execute("SELECT 1")
    if connection.vendor != "postgresql":  # SQLite uses Django's cursor each time
        assert len(statements._server_cursors) == 0
        return
    kept = statements._server_cursors.get(connection.connection)
    with statement_cursor(connection) as cursor:
        cursor.execute("SELECT 1")
    assert kept is not None and statements._server_cursors.get(connection.connection) is kept


def test_postgresql_prepares_the_last_look_once_it_has_run_a_few_times():
    touch = ScheduledTouchFactory()
    postgresql = connection.vendor == "postgresql"
    if postgresql:  # as settings.py sets it outside the tests (DB_PREPARED_STATEMENTS)
        raw = connection.connection
        threshold, raw.prepare_threshold = raw.prepare_threshold, 5
    try:
        for _ in range(8):
            assert touch.enrollment_id in contact_states([touch.enrollment_id])
    finally:
        if postgresql:
            raw.prepare_threshold = threshold
    if not postgresql:
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert any("outreach_enrollment" in statement for statement in prepared)


def test_fetch_rows_answers_on_both_paths_and_translates_errors():
    assert statements.fetch_rows(connection, "SELECT %s + 1", [41]) == [(42,)]  # first run: through a cursor
    assert statements.fetch_rows(connection, "SELECT %s + 1", [1]) == [(2,)]  # then on the kept cursor
    with pytest.raises(DatabaseError):
        statements.fetch_rows(connection, "SELECT * FROM no_such_table WHERE id = %s", [1])


def test_fetch_rows_runs_without_a_wrapper_only_when_no_query_is_logged(monkeypatch: pytest.MonkeyPatch):
    statements.fetch_rows(connection, "SELECT %s", [1])
    with CaptureQueriesContext(connection) as logged:
        statements.fetch_rows(connection, "SELECT %s + 2", [1])
    assert [query["sql"].endswith(" + 2") for query in logged.captured_queries] == [True]
    if connection.vendor != "postgresql":
        return

    def no_wrapper(_: object) -> None:
        raise AssertionError("the kept server cursor should have been used")

    monkeypatch.setattr(statements, "statement_cursor", no_wrapper)
    assert statements.fetch_rows(connection, "SELECT %s + 3", [1]) == [(4,)]


def test_fetch_rows_refuses_to_run_in_a_transaction_that_must_roll_back():
    statements.fetch_rows(connection, "SELECT %s", [1])
    with transaction.atomic():
        transaction.set_rollback(True)
        with pytest.raises(TransactionManagementError):
            statements.fetch_rows(connection, "SELECT %s", [1])
