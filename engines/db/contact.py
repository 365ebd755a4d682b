"""The last look before a send: touches' enrollment states and their leads' contact fields, as committed now.

The dispatcher reads this immediately before its provider calls start
(engines.services.sending.outbox.refusals): for one touch, or for as many as
it has threads free to start at once. Written out by hand: the ORM compiled
the same query anew for every look, at several times the cost of running it;
and run through a statement cursor, so PostgreSQL plans it once per
connection and group size rather than on every look.
"""

from __future__ import annotations

from collections.abc import Collection
from functools import cache
from typing import cast

from django.db import connection

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


def contact_states(enrollment_ids: Collection[int]) -> dict[int, ContactState]:
    """For each of these enrollments that still exists (with its lead): its state and its lead's contact fields,
    by enrollment id. One query by primary keys; values as the database driver gives them (SQLite: booleans as
    0/1)."""
    if not enrollment_ids:
        return {}
    query = f"{_select(connection.vendor)}({', '.join(['%s'] * len(enrollment_ids))})"
    rows = fetch_rows(connection, query, list(enrollment_ids))
    return {cast(int, row[0]): (str(row[1]), dict(zip(CONTACT_FIELDS, row[2:], strict=True))) for row in rows}
