"""The last look before a send: a touch's enrollment state and its lead's contact fields, as committed now.

The dispatcher reads this for every touch immediately before its provider
call (engines.services.sending.outbox.check_still_allowed). Written out once
and reused: the ORM compiled the same query anew for every touch, at several
times the cost of running it.
"""

from __future__ import annotations

from functools import cache

from django.db import connection

from outreach.models import Enrollment, Lead, ScheduledTouch

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
    "email",
    "phone",
    "linkedin_url",
)


@cache
def _query(vendor: str) -> str:
    qn = connection.ops.quote_name
    lead_columns = {field.attname: field.column for field in Lead._meta.concrete_fields}
    lead, enrollment = Lead._meta, Enrollment._meta
    columns = ", ".join(f"l.{qn(lead_columns[name])}" for name in CONTACT_FIELDS)
    # Both rows by their own primary keys: joining them through the touch cost three times as much.
    return (
        f"SELECT e.{qn('state')}, {columns} FROM {qn(lead.db_table)} l, {qn(enrollment.db_table)} e "
        f"WHERE l.{qn(lead.pk.column)} = %s AND e.{qn(enrollment.pk.column)} = %s"
    )


def contact_state(touch: ScheduledTouch) -> tuple[str, dict[str, object]] | None:
    """(the touch's enrollment state, its lead's CONTACT_FIELDS by name), or None when its lead is gone. One
    query by primary keys; values as the database driver gives them (SQLite: booleans as 0/1)."""
    with connection.cursor() as cursor:
        cursor.execute(_query(connection.vendor), [touch.lead_id, touch.enrollment_id])
        row = cursor.fetchone()
    if row is None:
        return None
    return str(row[0]), dict(zip(CONTACT_FIELDS, row[1:], strict=True))
