"""Bulk writes the ORM makes slow: one UPDATE that gives each row its own values, or one per row sent
together."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model

# Rows per statement: SQLite allows 32,766 parameters in one statement.
ROWS_PER_STATEMENT = 1000


def update_from_values(
    model: type[Model],
    assignments: str,
    rows: Sequence[Sequence[Any]],
    *,
    params: Sequence[Any] = (),
    where: str = "",
    using: str = DEFAULT_DB_ALIAS,
) -> int:
    """`UPDATE table SET <assignments> FROM (VALUES <rows>) v WHERE id = v.column1 <where>`; the rows changed.

    Each row starts with the id of the row it updates; the assignments read
    its other values as v.column2, v.column3, ... (PostgreSQL and SQLite
    >= 3.33 both take this), already in the database's form (see
    Field.get_db_prep_value). `params` fill the %s of the assignments, then
    of `where` (" AND ..."). The ORM's way, bulk_update or a Case per row,
    compiles about half a millisecond of Python for every row.
    """
    connection = connections[using]
    table = connection.ops.quote_name(model._meta.db_table)
    split = assignments.count("%s")
    changed = 0
    for start in range(0, len(rows), ROWS_PER_STATEMENT):
        chunk = rows[start : start + ROWS_PER_STATEMENT]
        row_sql = "(" + ", ".join(["%s"] * len(chunk[0])) + ")"
        values = ", ".join([row_sql] * len(chunk))
        sql = f"UPDATE {table} SET {assignments} FROM (VALUES {values}) AS v WHERE {table}.id = v.column1{where}"
        with connection.cursor() as cursor:
            cursor.execute(sql, [*params[:split], *(value for row in chunk for value in row), *params[split:]])
            changed += cursor.rowcount
    return changed


def update_each(
    model: type[Model], fields: Sequence[str], objects: Iterable[Model], *, using: str = DEFAULT_DB_ALIAS
) -> None:
    """`UPDATE table SET <field> = %s, ... WHERE pk = %s` for each object, with its values of `fields` as the
    object holds them (plain values the driver adapts), all through one executemany: bulk_update's CASE
    expressions cost seconds per thousand rows."""
    connection = connections[using]
    meta, quote = model._meta, connection.ops.quote_name
    field_of = {field.name: field for field in meta.concrete_fields}
    assignments = ", ".join(f"{quote(field_of[name].column)} = %s" for name in fields)
    sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(meta.pk.column)} = %s"
    attnames = [field_of[name].attname for name in fields]
    with connection.cursor() as cursor:
        cursor.executemany(sql, [[getattr(obj, name) for name in attnames] + [obj.pk] for obj in objects])
