"""Storing a row once, in one round trip: an INSERT that may find its row already there.

`insert_once` is the ORM's INSERT with ON CONFLICT DO NOTHING (INSERT OR
IGNORE on SQLite): no error when a unique constraint holds the row already,
so no savepoint inside a transaction. `insert_message_event` is the tracking
webhooks' fast path built on it: it finds the message an event is about and
stores the event in one statement (on PostgreSQL, also the lead's columns
and whether the lead has touches left to cancel), through a cursor kept per
connection that binds parameters on the server, so the statement may be
prepared.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from django.db import DEFAULT_DB_ALIAS, connections, router
from django.db.models import Model
from django.db.models.constants import OnConflict
from django.db.models.sql import InsertQuery

from engines.db.copy import written_fields
from engines.db.statements import statement_cursor
from outreach.models import Activity, Lead, ScheduledTouch
from outreach.models.choices import UNSENT_TOUCH_STATUSES

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.backends.utils import CursorWrapper


def insert_once(obj: Model) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING: whether the row was written, in one round trip and without the
    savepoint a refused plain INSERT would need inside a transaction. (SQLite's INSERT OR IGNORE also skips
    a row a check constraint refuses; the caller tells the two apart.)"""
    model = type(obj)
    query = InsertQuery(model, on_conflict=OnConflict.IGNORE)
    query.insert_values(written_fields(model), [obj])
    connection = connections[router.db_for_write(model)]
    ((sql, params),) = query.get_compiler(connection=connection).as_sql()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        written: bool = cursor.rowcount == 1
    obj._state.adding, obj._state.db = False, connection.alias
    return written


class EventWritten(NamedTuple):
    """What insert_message_event did: the message's lead when the event was written (else None), whether the
    event was stored already (a replay), whether the lead may have unsent touches to cancel."""

    lead_id: int | None
    replay: bool
    open_touches: bool


def insert_message_event(
    *, message_id: str, sent_action: str, action: str, provider: str, event_id: str, at: datetime,
    metadata: Mapping[str, Any], lead_updates: Mapping[str, Any], cancels: bool, channels: Sequence[str] | None,
    using: str = DEFAULT_DB_ALIAS,
) -> EventWritten:  # fmt: skip
    """Store the event `action` about the first Activity `sent_action` with provider_message_id `message_id`,
    once per (provider, event_id), copying what the touch is from that message and linking to it; on first
    storage set `lead_updates` (plain values) on its lead. `cancels`: the caller cancels the lead's unsent
    touches (of `channels`, None: all) and asks whether there are any.

    PostgreSQL: one round trip, the lead's columns set in the same statement. SQLite: a second to tell a
    replay from a message not found, and one to set the lead's columns.
    """
    connection = connections[using]
    shape = _Shape(connection.vendor, tuple(lead_updates), cancels, channels is not None)
    params = {
        "id": _FIELDS["id"].get_db_prep_save(uuid.uuid4(), connection), "action": action,
        "metadata": _FIELDS["metadata"].get_db_prep_save(dict(metadata), connection), "provider": provider,
        "event_id": event_id, "at": _FIELDS["created_at"].get_db_prep_save(at, connection),
        "message_id": message_id, "sent_action": sent_action,
    }  # fmt: skip
    if shape.vendor == "postgresql":  # what the statement also does there (SQLite's query log binds every value)
        params.update({f"lead_{name}": value for name, value in lead_updates.items()})
        params.update({"unsent": list(UNSENT_TOUCH_STATUSES), "channels": channels} if cancels else {})
    with statement_cursor(connection) as cursor:
        cursor.execute(_message_event_sql(connection, shape), params)
        row = cursor.fetchone()
        if shape.vendor == "postgresql":  # (lead_id or NULL, message found, open touches to cancel)
            return EventWritten(row[0], row[0] is None and row[1], row[2])
        # SQLite has no INSERT inside WITH: a row when one was written, else look the event up
        lead_id, cancel = (row[0], cancels) if row else (None, False)
        replay = row is None and _stored_already(cursor, provider, event_id)
        if lead_id is not None and lead_updates:
            Lead.objects.filter(pk=lead_id).update(**lead_updates)
    return EventWritten(lead_id, replay, cancel)


@dataclass(frozen=True)
class _Shape:
    """What the fast path's statement must do besides storing the event: which lead columns it sets, whether it
    asks for the lead's open touches (of some channels only)."""

    vendor: str
    updates: tuple[str, ...]
    cancels: bool
    some_channels: bool


_FIELDS = {field.name: field for field in Activity._meta.concrete_fields}
_LEAD_COLUMNS = {field.name: field.column for field in Lead._meta.concrete_fields}
# The fast path's statements, built once per shape: composing one each time cost a third of running it.
_MESSAGE_EVENT_SQL: dict[_Shape, str] = {}


def _message_event_sql(connection: BaseDatabaseWrapper, shape: _Shape) -> str:
    """Find the message sent (the first with this id), copy what the touch is from it and the message itself as
    in_reply_to, and insert the event; a conflict writes nothing (no error, so no savepoint). PostgreSQL also
    sets the lead's columns and answers (lead_id or NULL, whether the message was found, whether the lead has
    touches to cancel) in one round trip; SQLite answers the lead_id of a written row."""
    if shape not in _MESSAGE_EVENT_SQL:
        quote = connection.ops.quote_name
        given = {"id": "id", "action": "action", "metadata": "metadata", "provider": "provider",
                 "provider_event_id": "event_id", "created_at": "at"}  # fmt: skip
        constants = {"content_snapshot": "'{}'", "provider_message_id": "''", "led_to_booking": "FALSE"}
        copied = ["client", "lead", "channel", "sequence_id", "touch_number", "in_reply_to"]
        columns = ", ".join(quote(_FIELDS[name].column) for name in [*given, *constants, *copied])
        sources = ", ".join([quote(_FIELDS[name].column) for name in copied[:-1]] + [quote("id")])
        table, lead = quote(Activity._meta.db_table), quote("lead_id")
        sent = (
            f"SELECT {sources} FROM {table} WHERE {quote('provider_message_id')} = %(message_id)s "
            f"AND {quote('action')} = %(sent_action)s ORDER BY {quote('created_at')} LIMIT 1"
        )
        values = ", ".join([*(f"%({param})s" for param in given.values()), *constants.values(), sources])
        insert = f"INSERT INTO {table} ({columns}) SELECT {values} FROM"
        _MESSAGE_EVENT_SQL[shape] = (
            f"INSERT OR IGNORE{insert.removeprefix('INSERT')} ({sent}) RETURNING {lead}"
            if shape.vendor == "sqlite"
            else f"WITH sent AS ({sent}), written AS ({insert} sent ON CONFLICT DO NOTHING RETURNING {lead})"
            f"{_lead_sql(shape, quote)} SELECT (SELECT {lead} FROM written), EXISTS (SELECT FROM sent), "
            f"{_open_touches_sql(shape, quote)}"
        )
    return _MESSAGE_EVENT_SQL[shape]


def _lead_sql(shape: _Shape, quote: Callable[[str], str]) -> str:
    """PostgreSQL: the lead's columns set in the same statement, only when the event was written."""
    if not shape.updates:
        return ""
    columns = ", ".join(f"{quote(_LEAD_COLUMNS[name])} = %(lead_{name})s" for name in shape.updates)
    written = f"(SELECT {quote('lead_id')} FROM written)"
    return f", marked AS (UPDATE {quote(Lead._meta.db_table)} SET {columns} WHERE {quote('id')} = {written})"


def _open_touches_sql(shape: _Shape, quote: Callable[[str], str]) -> str:
    """PostgreSQL: whether the lead has unsent touches (of the channels) for the caller to cancel, so a lead
    with none costs no further round trip."""
    if not shape.cancels:
        return "FALSE"
    channel = f" AND {quote('channel')} = ANY(%(channels)s)" if shape.some_channels else ""
    return (
        f"EXISTS (SELECT 1 FROM {quote(ScheduledTouch._meta.db_table)} WHERE {quote('lead_id')} = "
        f"(SELECT {quote('lead_id')} FROM sent) AND {quote('status')} = ANY(%(unsent)s){channel})"
    )


def _stored_already(cursor: CursorWrapper, provider: str, event_id: str) -> bool:
    if not event_id:
        return False
    table, quote = Activity._meta.db_table, cursor.db.ops.quote_name
    cursor.execute(
        f"SELECT 1 FROM {quote(table)} WHERE {quote('provider')} = %s AND {quote('provider_event_id')} = %s",
        [provider, event_id],
    )
    return cursor.fetchone() is not None
