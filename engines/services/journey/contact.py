"""Stopping a lead's sequence: the one synchronous step that safety allows in a receiver."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from engines.services.journey.enrollments import end_open_enrollment, finish_completed
from engines.services.planning.touch_writer import cancel_touches
from outreach.models import Channel, Lead, ScheduledTouch
from outreach.models.choices import UNSENT_TOUCH_STATUSES


def cancel_planned_touches(lead: Lead | int, *, reason: str, channels: Iterable[str] | None = None) -> int:
    """Cancel the lead's unsent touches (of `channels` only, when given) with `reason`; how many were cancelled.

    Their open manual tasks are skipped with the same reason, so nobody is
    asked to message a lead who asked us to stop. A touch already `sending`
    is not touched here: the send path reads the lead again just before the
    provider is called and blocks it there. Runs inside the caller's
    transaction when there is one, so the outcome that ends a sequence and
    the cancellation commit together.

    Stopping every channel ends the lead's open enrollment, in the state the
    reason says (enrollments.ENDED_BY); stopping some channels finishes it
    when no step is left on the others.
    """
    lead_id = lead.pk if isinstance(lead, Lead) else lead
    touches = ScheduledTouch.objects.filter(lead_id=lead_id, status__in=UNSENT_TOUCH_STATUSES)
    if channels is not None:
        touches = touches.filter(channel__in=list(channels))
    with transaction.atomic():
        touch_ids = list(touches.select_for_update().values_list("pk", flat=True))
        cancelled = cancel_touches(ScheduledTouch.objects.filter(pk__in=touch_ids), reason=reason) if touch_ids else 0
        if channels is None:
            end_open_enrollment(lead_id, reason=reason)
        elif cancelled:
            finish_completed([lead_id])
    return cancelled


def apply_call_outcome(lead: Lead, *, outcome: str) -> None:
    """What a call taught us about the phone: a wrong number serves neither SMS nor calls; "do not call" opts out."""
    if outcome == "wrong_number":
        Lead.objects.filter(pk=lead.pk).update(phone_unusable=True)
        cancel_planned_touches(lead, reason="wrong_number", channels=[Channel.SMS, Channel.VOICE])
    elif outcome == "do_not_call":
        Lead.objects.filter(pk=lead.pk).update(voice_opted_out=True)
        cancel_planned_touches(lead, reason="do_not_call", channels=[Channel.VOICE])
