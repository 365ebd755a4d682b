"""A dialer's final call statuses, recorded once per call and status as a completed call."""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction

from engines.services.outcomes.events import Recorded, stored_event
from engines.services.sending.manual_tasks import complete_task
from engines.services.sending.voice import complete_call
from outreach.models import Activity, Lead, ManualTask, TaskKind, TaskStatus

# Twilio's final call statuses and the call outcome each one records.
CALL_STATUS_OUTCOMES = {"completed": "connected", "busy": "busy", "no-answer": "no_answer", "canceled": "no_answer",
                        "failed": "no_answer"}  # fmt: skip


class _AlreadyStored(Exception):
    """Another delivery of the same call status stored it first; rolls back this one's writes."""


def record_call_status(
    lead: Lead,
    *,
    provider: str,
    call_sid: str,
    status: str,
    duration_seconds: int,
    answered_by: str = "",
    at: datetime | None = None,
) -> Recorded:
    """A dialer's final call status, recorded once per call and status through voice.complete_call.

    When the lead has a call task open, the call completes it (the touch is sent, the task done).
    """
    outcome = CALL_STATUS_OUTCOMES[status]
    if outcome == "connected" and answered_by.startswith("machine"):
        outcome = "voicemail"
    event_id = f"{call_sid}:{status}"
    try:
        with transaction.atomic():
            existing = stored_event(provider, event_id)
            if existing is not None:
                return Recorded(existing, False)
            activity = _complete_call(lead, outcome, duration_seconds, f"{provider} call {call_sid}: {status}", at)
            try:
                with transaction.atomic():
                    Activity.objects.filter(pk=activity.pk).update(
                        provider=provider, provider_event_id=event_id, provider_message_id=call_sid
                    )
            except IntegrityError:
                raise _AlreadyStored from None
    except _AlreadyStored:
        return Recorded(Activity.objects.get(provider=provider, provider_event_id=event_id), False)
    activity.refresh_from_db()
    return Recorded(activity, True)


def _complete_call(lead: Lead, outcome: str, duration: int, notes: str, at: datetime | None) -> Activity:
    task = ManualTask.objects.filter(lead=lead, kind=TaskKind.CALL, status=TaskStatus.OPEN).order_by("due_at").first()
    if task is not None:
        return complete_task(task, outcome=outcome, notes=notes, now=at, duration_seconds=duration)
    return complete_call(
        lead,
        lead.client,
        outcome=outcome,
        duration_seconds=duration,
        notes=notes,
        now=at,
    )
