"""Stopping a lead's sequence: the one synchronous step that safety allows in a receiver."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from outreach.models import Lead, ManualTask, ScheduledTouch, TaskStatus, TouchStatus

# Touches that have not gone out: still planned, or handed to a person who has not acted yet.
UNSENT_STATUSES = (TouchStatus.PLANNED, TouchStatus.WAITING)


def cancel_planned_touches(lead: Lead | int, *, reason: str, channels: Iterable[str] | None = None) -> int:
    """Cancel the lead's unsent touches (of `channels` only, when given) with `reason`; how many were cancelled.

    Their open manual tasks are skipped with the same reason, so nobody is
    asked to message a lead who asked us to stop. A touch already `sending`
    is not touched here: the send path reads the lead again just before the
    provider is called and blocks it there. Runs inside the caller's
    transaction when there is one, so the outcome that ends a sequence and
    the cancellation commit together.
    """
    lead_id = lead.pk if isinstance(lead, Lead) else lead
    touches = ScheduledTouch.objects.filter(lead_id=lead_id, status__in=UNSENT_STATUSES)
    if channels is not None:
        touches = touches.filter(channel__in=list(channels))
    with transaction.atomic():
        touch_ids = list(touches.select_for_update().values_list("pk", flat=True))
        if not touch_ids:
            return 0
        return cancel_touches(ScheduledTouch.objects.filter(pk__in=touch_ids), reason=reason)


def cancel_touches(touches: QuerySet[ScheduledTouch], *, reason: str) -> int:
    """Cancel those of `touches` not yet sent, and skip their open manual tasks, with `reason`; how many.

    The one cancelling write, shared by stopping contact and by re-planning.
    """
    unsent = touches.filter(status__in=UNSENT_STATUSES)
    stamp = timezone.now()
    ManualTask.objects.filter(scheduled_touch__in=unsent, status=TaskStatus.OPEN).update(
        status=TaskStatus.SKIPPED, closed_at=stamp, outcome=reason[:30]
    )
    return unsent.update(status=TouchStatus.CANCELLED, reason=reason[:120], updated_at=stamp)
