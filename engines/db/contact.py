"""The last look before a send: touches' enrollment states and their leads' contact fields, as committed now.

The dispatcher reads this immediately before its provider calls start
(engines.services.sending.outbox.refusals): for one touch, or for as many as
it has threads free to start at once. Written out by hand: the ORM compiled
the same query anew for every look, at several times the cost of running it;
and run through a statement cursor, so PostgreSQL plans it once per
connection and group size rather than on every look.

A dispatcher making its calls one at a time sends each look ahead
(LookAhead): once the previous call has returned, the next touch's look goes
to PostgreSQL over a connection of its own, and its answer is read just
before that touch's call, so the round trip overlaps preparing the touch
rather than holding up every send.
"""

from __future__ import annotations

import select
from collections.abc import Collection
from functools import cache
from typing import TYPE_CHECKING, cast

from django.db import DatabaseError, connection

from engines.db.features import can_write_alongside
from engines.db.statements import fetch_rows
from outreach.models import Enrollment, Lead

# What the send checks read of a lead (engines.rules.compliance.channel_block_reason, its status, its client).
CONTACT_FIELDS = (
    "client_id",
    "status",
    "do_not_contact",
    "is_unsubscribed",
    "email_opted_out",
    "sms_opted_out",
    "linkedin_opted_out",
    "voice_opted_out",
    "has_bounced",
    "phone_unusable",
    "sms_unsupported",
    "email",
    "phone",
    "linkedin_url",
)

# An enrollment's state and its lead's CONTACT_FIELDS by name.
ContactState = tuple[str, dict[str, object]]


@cache
def _select(vendor: str) -> str:
    """The query without its list of enrollment ids, written once per database vendor."""
    qn = connection.ops.quote_name
    lead_columns = {field.attname: field.column for field in Lead._meta.concrete_fields}
    lead, enrollment = Lead._meta, Enrollment._meta
    columns = ", ".join(f"l.{qn(lead_columns[name])}" for name in CONTACT_FIELDS)
    return (
        f"SELECT e.{qn(enrollment.pk.column)}, e.{qn('state')}, {columns} "
        f"FROM {qn(enrollment.db_table)} e JOIN {qn(lead.db_table)} l "
        f"ON l.{qn(lead.pk.column)} = e.{qn(enrollment.get_field('lead').column)} "
        f"WHERE e.{qn(enrollment.pk.column)} IN "
    )


def _rows_of(rows: list[tuple[object, ...]]) -> dict[int, ContactState]:
    return {cast(int, row[0]): (str(row[1]), dict(zip(CONTACT_FIELDS, row[2:], strict=True))) for row in rows}


def contact_states(enrollment_ids: Collection[int]) -> dict[int, ContactState]:
    """For each of these enrollments that still exists (with its lead): its state and its lead's contact fields,
    by enrollment id. One query by primary keys; values as the database driver gives them (SQLite: booleans as
    0/1)."""
    if not enrollment_ids:
        return {}
    query = f"{_select(connection.vendor)}({', '.join(['%s'] * len(enrollment_ids))})"
    return _rows_of(fetch_rows(connection, query, list(enrollment_ids)))


if TYPE_CHECKING:
    from psycopg import Connection
    from psycopg.rows import TupleRow

_PREPARED = b"outreach_contact_look"


class LookAhead:
    """Last looks sent to PostgreSQL ahead of their use, over a connection of their own: `send` sends one without
    waiting, `receive` reads its answer. Made by `open`, which gives None on another database, inside a
    transaction (the other connection would not see its rows) or when the connection cannot be opened; then
    callers read with contact_states."""

    def __init__(self, raw: Connection[TupleRow]):
        from psycopg.adapt import Transformer

        self._raw = raw
        self._transformer = Transformer.from_context(raw)
        self._sent: frozenset[int] | None = None

    @classmethod
    def open(cls) -> LookAhead | None:
        if connection.vendor != "postgresql" or not can_write_alongside():
            return None  # SQLite reads cost no round trip; a caller's open transaction holds rows it alone sees
        import psycopg

        try:
            raw = connection.get_new_connection(connection.get_connection_params())
        except (psycopg.Error, DatabaseError):
            return None
        try:
            raw.autocommit = True
            any_of = _select(connection.vendor).removesuffix(" IN ") + " = ANY($1::bigint[])"
            prepared = raw.pgconn.prepare(_PREPARED, any_of.encode())
            if prepared.status != psycopg.pq.ExecStatus.COMMAND_OK:
                raise psycopg.OperationalError(prepared.get_error_message())
        except psycopg.Error:
            raw.close()
            return None
        return cls(raw)

    def send(self, enrollment_ids: Collection[int]) -> None:
        """Send the look for these enrollments; an answer not read yet is dropped."""
        import psycopg

        self._drop()
        pgconn = self._raw.pgconn
        try:
            ids = ",".join(str(int(pk)) for pk in enrollment_ids)
            pgconn.send_query_prepared(_PREPARED, [f"{{{ids}}}".encode()])
            while pgconn.flush():
                select.select([], [pgconn.socket], [])
        except psycopg.Error:
            return  # `receive` answers None: the caller reads the states itself
        self._sent = frozenset(enrollment_ids)

    def receive(self, enrollment_ids: Collection[int]) -> dict[int, ContactState] | None:
        """The answer to the look sent for these enrollments, as contact_states gives it; None when none was
        sent for all of them (the caller reads itself). DatabaseError when the look failed."""
        if self._sent is None or not self._sent.issuperset(enrollment_ids):
            self._drop()
            return None
        return _rows_of(self._answer())

    def close(self) -> None:
        self._raw.close()

    def _drop(self) -> None:
        if self._sent is not None:
            try:
                self._answer()
            except DatabaseError:
                pass  # a failed look that is not used any more

    def _answer(self) -> list[tuple[object, ...]]:
        import psycopg
        from psycopg import pq

        self._sent = None
        pgconn = self._raw.pgconn
        try:
            pgconn.consume_input()
            while pgconn.is_busy():
                select.select([pgconn.socket], [], [])
                pgconn.consume_input()
            results = []
            while (result := pgconn.get_result()) is not None:
                results.append(result)
        except psycopg.Error as exc:
            raise DatabaseError(f"the last look failed: {exc}") from exc
        if len(results) != 1 or results[0].status != pq.ExecStatus.TUPLES_OK:
            message = results[0].error_field(pq.DiagnosticField.MESSAGE_PRIMARY) if results else None
            raise DatabaseError(f"the last look failed: {(message or b'no answer').decode(errors='replace')}")
        self._transformer.set_pgresult(results[0])
        return cast(list[tuple[object, ...]], self._transformer.load_rows(0, results[0].ntuples, tuple))
