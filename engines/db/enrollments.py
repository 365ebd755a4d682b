"""Finishing enrollments in one statement: the ORM cannot return the rows an UPDATE changed, and reading them
first cost the recording of every batch of sends a query of its own."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from django.db import connection

from outreach.models import Enrollment, ScheduledTouch


def finish_without_live_steps(
    lead_ids: Collection[int], *, at: datetime, live_statuses: Sequence[str], active: str, finished: str, reason: str
) -> list[int]:
    """`UPDATE` the `active` enrollments of these leads with no touch in `live_statuses` to `finished` (ended at
    `at` for `reason`), one statement; the leads whose enrollment finished (PostgreSQL and SQLite
    >= 3.35 both return the changed rows)."""
    if not lead_ids:
        return []
    qn = connection.ops.quote_name
    enrollment, touch = qn(Enrollment._meta.db_table), qn(ScheduledTouch._meta.db_table)
    at_value = Enrollment._meta.get_field("ended_at").get_db_prep_value(at, connection)
    leads = ", ".join(["%s"] * len(lead_ids))
    statuses = ", ".join(["%s"] * len(live_statuses))
    sql = (
        f"UPDATE {enrollment} SET state = %s, ended_at = %s, end_reason = %s, updated_at = %s "
        f"WHERE lead_id IN ({leads}) AND state = %s AND NOT EXISTS ("
        f"SELECT 1 FROM {touch} t WHERE t.enrollment_id = {enrollment}.id AND t.status IN ({statuses})) "
        "RETURNING lead_id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [finished, at_value, reason, at_value, *lead_ids, active, *live_statuses])
        return [row[0] for row in cursor.fetchall()]
