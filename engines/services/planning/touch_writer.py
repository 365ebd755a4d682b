"""Saving plans, and the checks that keep one live sequence per lead.

A *live* plan is one with a touch that may still go out or is going out:
planned, waiting for a person, sending, or sending and in review. Re-planning
cancels the unsent ones (planned and waiting, with their open manual tasks
skipped) and leaves touches that are sending, in review or done alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.db.models import F, Max, QuerySet
from django.utils import timezone

from engines.db.copy import copy_escape_json, insert_text
from engines.services.planning.plan import Plan
from outreach.models import Lead, ManualTask, ScheduledTouch, TaskStatus, TouchStatus
from outreach.models.choices import LIVE_TOUCH_STATUSES, UNSENT_TOUCH_STATUSES

REPLAN_REASON = "replanned"
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


def leads_with_live_plan(lead_ids: Sequence[int], *, created_since: datetime | None = None) -> set[int]:
    """The leads among `lead_ids` with a live touch (created at or after `created_since`, when given)."""
    touches = ScheduledTouch.objects.filter(lead_id__in=list(lead_ids), status__in=LIVE_TOUCH_STATUSES)
    if created_since is not None:
        touches = touches.filter(created_at__gte=created_since)
    return set(touches.values_list("lead_id", flat=True).distinct())


@dataclass(frozen=True)
class Progress:
    """How far a lead's running sequence got: the number of the last touch that went out, and when."""

    done: int
    last_at: datetime


def progress_of(lead_ids: Sequence[int]) -> dict[int, Progress]:
    """For each lead whose live sequence has touches that went out (or were used up), how far it got.

    A re-plan replaces only what has not gone out: the new plan continues
    after these touches instead of starting the lead's sequence again.
    """
    running = ScheduledTouch.objects.filter(lead_id__in=list(lead_ids), status__in=UNSENT_TOUCH_STATUSES)
    used = (
        ScheduledTouch.objects.filter(lead_id__in=list(lead_ids), sequence_id__in=running.values("sequence_id"))
        .exclude(status__in=(*UNSENT_TOUCH_STATUSES, TouchStatus.CANCELLED))
        .order_by()
        .values("lead_id")
        .annotate(done=Max("touch_number"), last_at=Max("scheduled_at"))
    )
    return {row["lead_id"]: Progress(row["done"], row["last_at"]) for row in used}


def cancel_for_replan(lead_ids: Sequence[int]) -> int:
    """Cancel the leads' unsent touches (reason "replanned") and skip their open manual tasks; how many."""
    return cancel_touches(ScheduledTouch.objects.filter(lead_id__in=list(lead_ids)), reason=REPLAN_REASON)


def insert_touches(plans: Sequence[Plan]) -> int:
    """Save the plans' touches (one COPY on PostgreSQL: several times faster than bulk_create's INSERT); how many."""
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
        head = f"{plan.lead.client_id}\t{plan.lead.pk}\t{plan.sequence_id}\t"
        exploring = "t" if plan.exploration is not None else "f"
        tail = (
            f"\t{plan.tier}\t{plan.planned_sequence}\t{exploring}\t{copy_escape_json(plan.exploration_json)}"
            f"\t0\t\t\t{stamp}\t{stamp}\n"
        )
        lines.extend(head + touch + tail for touch in plan.timeline.copy_fields)
    return lines


def cancel_touches(touches: QuerySet[ScheduledTouch], *, reason: str) -> int:
    """Cancel those of `touches` not yet sent, and skip their open manual tasks, with `reason`; how many.

    The one cancelling write, shared by stopping contact and by re-planning.
    """
    unsent = touches.filter(status__in=UNSENT_TOUCH_STATUSES)
    stamp = timezone.now()
    ManualTask.objects.filter(scheduled_touch__in=unsent, status=TaskStatus.OPEN).update(
        status=TaskStatus.SKIPPED, closed_at=stamp, outcome=reason[:30]
    )
    return unsent.update(status=TouchStatus.CANCELLED, reason=reason[:120], updated_at=stamp)
