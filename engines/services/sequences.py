"""Stopping a lead's sequence: the one synchronous step that safety allows in a receiver."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
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
        ManualTask.objects.filter(scheduled_touch_id__in=touch_ids, status=TaskStatus.OPEN).update(
            status=TaskStatus.SKIPPED, closed_at=timezone.now(), outcome=reason[:30]
        )
        return ScheduledTouch.objects.filter(pk__in=touch_ids).update(status=TouchStatus.CANCELLED, reason=reason[:120])
