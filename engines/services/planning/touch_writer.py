"""Saving plans as enrollments and their steps, and the checks that plan a lead once.

A lead is planned once: its plan is saved as an Enrollment whose steps are
ScheduledTouches. Allocation leaves an enrolled lead alone (a new enrollment
is a deliberate re-enrolment). Re-planning an active enrollment cancels its
unsent steps (planned and waiting, with their open manual tasks skipped),
leaves the steps that are sending, in review or done, and plans the rest
after them with the same enrollment and numbering.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.db.models import F, Max, QuerySet
from django.utils import timezone

from engines.db.copy import copy_escape_json, insert_returning_ids, insert_text
from engines.services.planning.plan import Plan
from outreach.models import (
    Enrollment,
    EnrollmentState,
    Lead,
    ManualTask,
    ScheduledTouch,
    StopReason,
    TaskStatus,
    TouchStatus,
)
from outreach.models.choices import LIVE_TOUCH_STATUSES, UNSENT_TOUCH_STATUSES

INSERT_BATCH_SIZE = 5000


def lock_leads(lead_ids: Sequence[int], *, skip_locked: bool = False) -> list[Lead]:
    """Lock the leads for the rest of the caller's transaction and return them, by pk; call it first in it.

    PostgreSQL locks the rows (SELECT ... FOR UPDATE, without the rows another
    transaction holds when `skip_locked`). SQLite has no row locks: a no-op
    UPDATE as the transaction's first statement takes the database's write
    lock at once, so a concurrent allocation waits for this one to commit
    instead of reading the same state and failing later on a lock upgrade.
    """
    leads = Lead.objects.filter(pk__in=list(lead_ids)).order_by("pk")
    if connection.features.has_select_for_update:
        return list(leads.select_for_update(skip_locked=skip_locked))
    Lead.objects.filter(pk__in=list(lead_ids)).update(status=F("status"))
    return list(leads)


def leads_enrolled(lead_ids: Sequence[int]) -> set[int]:
    """The leads among `lead_ids` with an enrollment, whatever its state."""
    return set(Enrollment.objects.filter(lead_id__in=list(lead_ids)).values_list("lead_id", flat=True).distinct())


def leads_with_live_plan(lead_ids: Sequence[int], *, created_since: datetime | None = None) -> set[int]:
    """The leads among `lead_ids` with a live touch (created at or after `created_since`, when given)."""
    touches = ScheduledTouch.objects.filter(lead_id__in=list(lead_ids), status__in=LIVE_TOUCH_STATUSES)
    if created_since is not None:
        touches = touches.filter(created_at__gte=created_since)
    return set(touches.values_list("lead_id", flat=True).distinct())


@dataclass(frozen=True)
class Progress:
    """How far a lead's active enrollment got: the number of its last step that went out (or was used up:
    sending, in review, failed, blocked), and when; 0 and None when none has."""

    enrollment_id: int
    sequence_id: uuid.UUID
    done: int
    last_at: datetime | None


def progress_of(lead_ids: Sequence[int]) -> dict[int, Progress]:
    """For each lead with an active enrollment, how far it got, over every plan it had (re-plans included).

    A re-plan replaces only what has not gone out: the new plan continues
    after these steps instead of starting the lead's sequence again.
    """
    enrollments = Enrollment.objects.filter(lead_id__in=list(lead_ids), state=EnrollmentState.ACTIVE)
    active, sequence_of = {}, {}
    for pk, lead_id, sequence_id in enrollments.values_list("pk", "lead_id", "sequence_id"):
        active[pk], sequence_of[pk] = lead_id, sequence_id
    used = {
        row["enrollment_id"]: row
        for row in ScheduledTouch.objects.filter(enrollment_id__in=list(active))
        .exclude(status__in=(*UNSENT_TOUCH_STATUSES, TouchStatus.CANCELLED))
        .order_by()
        .values("enrollment_id")
        .annotate(done=Max("touch_number"), last_at=Max("scheduled_at"))
    }
    return {
        lead_id: Progress(pk, sequence_of[pk], used[pk]["done"] if pk in used else 0, used.get(pk, {}).get("last_at"))
        for pk, lead_id in active.items()
    }


def enroll(plans: Sequence[Plan]) -> int:
    """Save an active Enrollment for each plan that has none (a new plan), carrying the plan's sequence id;
    how many were made."""
    new = [plan for plan in plans if plan.enrollment_id is None]
    rows = [
        {
            "client_id": plan.lead.client_id,
            "lead_id": plan.lead.pk,
            "sequence_id": plan.sequence_id,
            "planned_sequence": plan.planned_sequence,
        }
        for plan in new
    ]
    for plan, enrollment_id in zip(new, insert_returning_ids(Enrollment, rows), strict=True):
        plan.enrollment_id = enrollment_id
    return len(new)


def cancel_for_replan(lead_ids: Sequence[int]) -> int:
    """Cancel the leads' unsent touches (reason "replanned") and skip their open manual tasks; how many."""
    return cancel_touches(ScheduledTouch.objects.filter(lead_id__in=list(lead_ids)), reason=StopReason.REPLANNED)


def insert_touches(plans: Sequence[Plan]) -> int:
    """Save the plans' touches (one COPY on PostgreSQL: several times faster than bulk_create's INSERT), new
    plans with their enrollments; how many touches."""
    enroll(plans)
    return insert_text(
        ScheduledTouch,
        _COPY_COLUMNS,
        lambda: _copy_lines(plans),
        lambda: [touch for plan in plans for touch in plan.touches()],
        batch_size=INSERT_BATCH_SIZE,
    )


_COPY_COLUMNS = (
    "client",
    "lead",
    "enrollment",
    "sequence_id",
    "touch_number",
    "channel",
    "scheduled_at",
    "status",
    "lead_tier",
    "planned_sequence",
    "is_exploration",
    "exploration",
    "attempts",
    "last_error",
    "reason",
    "created_at",
    "updated_at",
)


def _copy_lines(plans: Sequence[Plan]) -> list[str]:
    """The plans' touches as COPY text lines, _COPY_COLUMNS in order; each timeline's part is shared by its leads.

    Every value but the exploration's JSON is a number, a UUID, a choice code,
    channel names or an ISO timestamp, none of which contains a tab, newline
    or backslash.
    """
    stamp = timezone.now().isoformat()
    lines: list[str] = []
    for plan in plans:
        head = f"{plan.lead.client_id}\t{plan.lead.pk}\t{plan.enrollment_id}\t{plan.sequence_id}\t"
        exploring = "t" if plan.exploration is not None else "f"
        tail = (
            f"\t{plan.tier}\t{plan.planned_sequence}\t{exploring}\t{copy_escape_json(plan.exploration_json)}"
            f"\t0\t\t\t{stamp}\t{stamp}\n"
        )
        lines.extend(head + touch + tail for touch in plan.timeline.copy_fields)
    return lines


def cancel_touches(touches: QuerySet[ScheduledTouch], *, reason: StopReason) -> int:
    """Cancel those of `touches` not yet sent, and skip their open manual tasks, with `reason`; how many.

    The one cancelling write, shared by stopping contact and by re-planning.
    """
    unsent = touches.filter(status__in=UNSENT_TOUCH_STATUSES)
    stamp = timezone.now()
    ManualTask.objects.filter(scheduled_touch__in=unsent, status=TaskStatus.OPEN).update(
        status=TaskStatus.SKIPPED, closed_at=stamp, outcome=reason
    )
    return unsent.update(status=TouchStatus.CANCELLED, reason=reason, updated_at=stamp)
