"""Reading many rows as columns, fast: values as the driver gives them, times as epoch seconds.

The detectors read a few hundred thousand narrow rows at a time. Django's
per-value converters (a datetime object per row, a UUID parsed per row) were
most of that time; here the database does what it can (`Epoch`) and numpy
the rest (`uuid_bytes`).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from django.db import connections
from django.db.models import FloatField, Func, QuerySet

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.models.sql.compiler import SQLCompiler

# The key uuid_bytes gives a NULL: no UUID (no sequence).
NULL_UUID = b"\x00" * 16
CHUNK = 50_000


class Epoch(Func):
    """A datetime column as seconds since 1970 (a float), computed by the database: equal to Python's
    `datetime.timestamp()` of the value, without making a datetime object per row (a third of reading the
    evidence went to parsing them)."""

    output_field = FloatField()

    def as_postgresql(self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any) -> tuple[str, Any]:
        return self.as_sql(compiler, connection, template="EXTRACT(EPOCH FROM %(expressions)s)::float8", **extra)

    def as_sqlite(self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any) -> tuple[str, Any]:
        # Stored as 'YYYY-MM-DD HH:MM:SS[.ffffff]' in UTC. The whole seconds and the microseconds apart (SQLite's
        # date functions round to milliseconds), then one division: it rounds as Python's timestamp() does.
        template = (
            "((CAST(strftime('%%%%s', substr(%(expressions)s, 1, 19)) AS INTEGER) * 1000000"
            " + CAST(substr(%(expressions)s, 21, 6) AS INTEGER)) / 1000000.0)"
        )
        return self.as_sql(compiler, connection, template=template, **extra)


def fetch_columns(queryset: QuerySet[Any], columns: Mapping[str, object]) -> dict[str, list[Any]]:
    """Read `columns` (name -> field name or expression) of every row, as one list per column.

    A plain cursor, not a server-side one: PostgreSQL may then scan in parallel, and the result (a few
    hundred thousand narrow rows) is turned into lists chunk by chunk. Values come as the database driver
    gives them, without Django's per-value converters (most of the time of reading a million rows):
    numbers, strings, booleans (0/1 on SQLite), UUIDs (hex text on SQLite; see `uuid_bytes`). Datetimes
    are to be read as `Epoch(...)`.
    """
    # Expressions are selected under a prefixed alias: the short names may be model fields ("channel").
    selected = [expr if isinstance(expr, str) else f"col_{name}" for name, expr in columns.items()]
    annotations = {f"col_{name}": expr for name, expr in columns.items() if not isinstance(expr, str)}
    rows = queryset.order_by().annotate(**annotations).values_list(*selected)
    sql, params = rows.query.get_compiler(using=rows.db).as_sql()
    out: dict[str, list[Any]] = {name: [] for name in columns}
    with connections[rows.db].cursor() as cursor:
        cursor.execute(sql, params)
        while chunk := cursor.fetchmany(CHUNK):
            for values, name in zip(zip(*chunk, strict=True), columns, strict=True):
                out[name].extend(values)
    return out


def uuid_bytes(values: Sequence[Any]) -> np.ndarray[Any, np.dtype[np.bytes_]]:
    """16-byte keys of UUID column values (UUID objects, or hex text on SQLite; None: NULL_UUID)."""
    return np.frombuffer(
        b"".join(NULL_UUID if v is None else v.bytes if isinstance(v, uuid.UUID) else bytes.fromhex(v) for v in values),
        dtype="S16",
    )
