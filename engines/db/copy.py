"""Inserting many rows at once: one COPY on PostgreSQL, bulk_create elsewhere.

`_copy_into` is the one COPY writer; the three ways in differ by what the
caller holds:

- `insert_objects`: unsaved instances that carry every value, their primary
  key included (the Activities of recorded sends);
- `insert_returning_ids`: rows of field values, whose new ids come back (an
  import's leads);
- `insert_text`: rows the caller writes as COPY text itself, because much of
  that text is shared by many rows (the touches of one timeline).

bulk_create's INSERT costs PostgreSQL's client several times COPY's CPU. The
database's constraints hold either way.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Field, JSONField, Model
from django.utils import timezone

from engines.db.features import is_postgresql

M = TypeVar("M", bound=Model)


def _copy_into(
    model: type[Model],
    fields: Sequence[Field[Any, Any]],
    *,
    rows: Iterable[Sequence[Any]] = (),
    text: str = "",
    using: str = DEFAULT_DB_ALIAS,
) -> None:
    """PostgreSQL: one `COPY table (columns of fields) FROM STDIN` of `text`, then of `rows`.

    `text` is COPY text format (a line per row ending in a newline, the values
    tab-separated, see `copy_escape_json`); each of `rows` holds the values of
    `fields` in order, in a form psycopg adapts. A row the database refuses
    raises Django's error (IntegrityError, DataError...), not psycopg's.
    """
    connection = connections[using]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    with connection.cursor() as cursor, connection.wrap_database_errors:  # Django's errors, as the ORM raises
        with cursor.cursor.copy(f"COPY {quote(model._meta.db_table)} ({columns}) FROM STDIN") as copy:
            if text:
                copy.write(text)
            for row in rows:
                copy.write_row(row)


def copy_escape_json(text: str) -> str:
    """A JSON text for COPY text format, where a backslash starts an escape (json.dumps writes no raw tab or
    newline, the other characters that format escapes)."""
    return text.replace("\\", "\\\\")


def written_fields(model: type[Model]) -> list[Field[Any, Any]]:
    """The concrete fields an INSERT writes: all but those the database computes (GeneratedField, such as
    Lead.email_company), which refuse a value."""
    return [field for field in model._meta.concrete_fields if not field.generated]


def insert_objects(objects: Sequence[M], *, batch_size: int | None = None, using: str = DEFAULT_DB_ALIAS) -> None:
    """Insert unsaved instances that carry every value, their primary key included.

    PostgreSQL: one COPY of every written field as the instance holds it (JSON
    fields encoded with their field's encoder; no field's pre_save runs).
    Elsewhere: bulk_create, `batch_size` rows per INSERT.
    """
    if not objects:
        return
    model = type(objects[0])
    if not is_postgresql(using):
        model._default_manager.db_manager(using).bulk_create(objects, batch_size=batch_size)
        return
    fields = written_fields(model)
    values = [(field.attname, getattr(field, "encoder", None), isinstance(field, JSONField)) for field in fields]
    rows = (
        [
            json.dumps(getattr(row, name), cls=encoder) if is_json else getattr(row, name)
            for name, encoder, is_json in values
        ]
        for row in objects
    )
    _copy_into(model, fields, rows=rows, using=using)


def insert_returning_ids(
    model: type[Model],
    rows: Sequence[Mapping[str, Any]],
    *,
    fixed: Mapping[str, Any] | None = None,
    using: str = DEFAULT_DB_ALIAS,
) -> list[int]:
    """Insert rows of values by attname (`fixed` adds the same values to every row); their new ids, in order.

    A field a row leaves out gets its default (the time now for auto_now and
    auto_now_add fields). PostgreSQL: the ids are drawn from the table's
    sequence, then the rows go with one COPY (bulk_create spends seconds per
    10,000 rows preparing values). Elsewhere: bulk_create, which reads the ids
    back.
    """
    if not rows:
        return []
    if not is_postgresql(using):
        made = (model(**(fixed or {}), **values) for values in rows)
        return [obj.pk for obj in model._default_manager.db_manager(using).bulk_create(made)]
    connection, meta = connections[using], model._meta
    fields = [field for field in written_fields(model) if not field.primary_key]
    now = timezone.now()
    defaults = {
        field.attname: now
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)
        else field.get_db_prep_save(field.get_default(), connection)
        for field in fields
    }
    defaults.update(fixed or {})
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [meta.db_table, meta.pk.column, len(rows)],
        )
        ids: list[int] = [pk for (pk,) in cursor.fetchall()]
    merged = ({**defaults, **values} for values in rows)
    copy_rows = ([pk, *(row[field.attname] for field in fields)] for pk, row in zip(ids, merged, strict=True))
    _copy_into(model, [meta.pk, *fields], rows=copy_rows, using=using)
    return ids


def insert_text(
    model: type[M],
    fields: Sequence[str],
    lines: Callable[[], list[str]],
    objects: Callable[[], list[M]],
    *,
    batch_size: int | None = None,
    using: str = DEFAULT_DB_ALIAS,
) -> int:
    """Insert rows the caller writes as COPY text itself; how many.

    PostgreSQL: one COPY of `lines()`, a row each in COPY text format, the
    values of `fields` (names) in that order. Elsewhere: bulk_create of
    `objects()`, the same rows as unsaved instances, `batch_size` per INSERT.
    Only the form the database takes is made.
    """
    if not is_postgresql(using):
        made = objects()
        model._default_manager.db_manager(using).bulk_create(made, batch_size=batch_size)
        return len(made)
    text = lines()
    if text:
        by_name = {field.name: field for field in model._meta.concrete_fields}
        _copy_into(model, [by_name[name] for name in fields], text="".join(text), using=using)
    return len(text)
