"""A cursor for statements run again and again: on PostgreSQL it binds parameters on the server, so psycopg
prepares the statement once it has run a few times (settings: DB_PREPARED_STATEMENTS).

The ORM's client-side cursors never prepare: PostgreSQL parses and plans
their statement on every run. For a short statement run once per event or
per send, planning is most of its cost: a prepared INSERT ... SELECT costs
the database under half of one planned each time, and the dispatcher's last
look by primary keys half of its round trip.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING
from weakref import WeakKeyDictionary

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.backends.utils import CursorWrapper
    from psycopg import Connection, Cursor
    from psycopg.rows import TupleRow

# One server-binding cursor per PostgreSQL connection, kept open: making and closing one for every event cost
# 3% of a tracking event. (Django's connections are per thread, so each cursor serves one thread.)
_server_cursors: WeakKeyDictionary[Connection[TupleRow], Cursor[TupleRow]] = WeakKeyDictionary()


def statement_cursor(connection: BaseDatabaseWrapper) -> AbstractContextManager[CursorWrapper]:
    """Django's cursor (its checks, error translation and query log); on PostgreSQL one binding parameters on
    the server."""
    if connection.vendor != "postgresql":
        return connection.cursor()
    from psycopg import Cursor  # PostgreSQL only

    connection.close_if_health_check_failed()
    connection.ensure_connection()
    connection.validate_thread_sharing()
    raw = _server_cursors.get(connection.connection)
    if raw is None or raw.closed:
        with connection.wrap_database_errors:
            raw = _server_cursors[connection.connection] = Cursor(connection.connection)
    wrap = connection.make_debug_cursor if connection.queries_logged else connection.make_cursor
    return nullcontext(wrap(raw))  # type: ignore[arg-type]  # django-stubs names the wrapper, not the raw cursor


def fetch_rows(connection: BaseDatabaseWrapper, sql: str, params: Sequence[int]) -> list[tuple[object, ...]]:
    """The rows of one statement run again and again (the dispatcher's last look, once per send).

    On PostgreSQL, with no query log to keep, it runs on the server-binding
    cursor itself, inside Django's error translation and broken-transaction
    check but without a CursorWrapper around it: the wrapper's bookkeeping
    cost more of the dispatcher's thread than the prepared statement's
    round trip. Elsewhere, and whenever queries are logged (DEBUG, the
    tests' query counts), through statement_cursor.
    """
    raw = None
    if connection.vendor == "postgresql" and connection.connection is not None and not connection.queries_logged:
        raw = _server_cursors.get(connection.connection)
    if raw is None or raw.closed:
        with statement_cursor(connection) as cursor:
            cursor.execute(sql, params)
            return list(cursor.fetchall())
    connection.validate_no_broken_transaction()
    with connection.wrap_database_errors:
        raw.execute(sql, params)
        return raw.fetchall()
