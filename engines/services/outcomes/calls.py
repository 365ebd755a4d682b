"""A dialer's final call statuses, recorded once per call and status: a call placed as a completed call, a
call the dialer could not place as a failed one."""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from engines.providers.errors import is_twilio_invalid_called_number
from engines.services.outcomes.events import Recorded, record_outcome, stored_event
from engines.services.sending.manual_tasks import complete_task
from engines.services.sending.voice import complete_call
from outreach.models import Activity, ActivityAction, Channel, Lead, ManualTask, StopReason, TaskKind, TaskStatus

# Twilio's final statuses of a call placed, and the call outcome each one records.
CALL_STATUS_OUTCOMES = {"completed": "connected", "busy": "busy", "no-answer": "no_answer", "canceled": "no_answer"}
# Twilio could not place the call (an invalid number, a carrier's refusal): nothing rang, nobody was called.
FAILED = "failed"
FINAL_CALL_STATUSES = frozenset({*CALL_STATUS_OUTCOMES, FAILED})


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
    error_code: str = "",
    at: datetime | None = None,
) -> Recorded:
    """A dialer's final call status, recorded once per call and status through voice.complete_call.

    When the lead has a call task open, the call completes it (the touch is sent, the task done). A failed
    call is record_failed_call's instead.
    """
    if status == FAILED:
        return record_failed_call(lead, provider=provider, call_sid=call_sid, error_code=error_code, at=at)
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


def record_failed_call(lead: Lead, *, provider: str, call_sid: str, error_code: str, at: datetime | None) -> Recorded:
    """A call the dialer could not place, recorded once as a failed call (voice_failed), not as a call made:
    the lead's open call task stays open, since nobody was reached, for a person to try again. When the
    dialer's error says the number is not a valid one (providers.errors.is_twilio_invalid_called_number), the
    phone is unusable: SMS and calls stop, the open call task is skipped with that reason."""
    invalid = is_twilio_invalid_called_number(error_code)
    return record_outcome(
        lead, action=ActivityAction.VOICE_FAILED, channel=Channel.VOICE, provider=provider,
        event_id=f"{call_sid}:{FAILED}", at=at or timezone.now(), provider_message_id=call_sid,
        metadata={"status": FAILED, "error_code": error_code, "invalid_number": invalid},
        stop=StopReason.PHONE_UNUSABLE if invalid else None,
    )  # fmt: skip
