"""Voice engine: record a completed call (the call itself is made by a person, through a ManualTask).

Recording is never gated: a call that happened is recorded even when the
lead has become do-not-contact since. Placing a call is gated where the
call task is opened (engines.services.sending.outbox.deliver_touch).
"""

from __future__ import annotations

import math
import uuid
from datetime import datetime
from numbers import Real

from django.db import transaction
from django.utils import timezone

from engines.exceptions import InvalidTouch
from engines.json_types import JSONValue
from engines.services.journey.colleagues import pause_colleagues
from engines.services.journey.contact import apply_call_outcome, stop_contact
from engines.services.sending import send_path
from engines.services.sending.recording import record_touch
from outreach.models import Activity, Channel, Client, Lead, ScheduledTouch, StopReason

CALL_OUTCOMES: tuple[str, ...] = (
    "connected",
    "voicemail",
    "no_answer",
    "busy",
    "wrong_number",
    "do_not_call",
    "meeting_booked",
)


def check_duration(duration_seconds: object) -> int:
    if (
        isinstance(duration_seconds, bool)
        or not isinstance(duration_seconds, Real)
        or not math.isfinite(duration_seconds)
        or duration_seconds < 0
    ):
        raise InvalidTouch(f"duration_seconds must be a number of seconds from 0, got {duration_seconds!r}")
    return int(round(duration_seconds))


def call_snapshot(
    outgoing: send_path.Outgoing,
    *,
    script_id: object,
    script_content: str | None,
    outcome: str,
    duration: int,
    notes: str | None,
) -> dict[str, JSONValue]:
    """The content snapshot of a call: the script analysed like any text, with how the call went."""
    snapshot = send_path.content_snapshot(outgoing, script_content, timed_by="person")  # a person made the call
    snapshot.update(
        script_id=str(script_id) if script_id is not None else None,
        script_content=script_content,
        outcome=outcome,
        duration_seconds=duration,
        duration_minutes=round(duration / 60, 1),
        notes=notes,
        completed_at=snapshot["sent_at"],
    )
    return snapshot


def complete_call(
    lead: Lead,
    client: Client,
    *,
    script_id: object = None,
    script_content: str | None = None,
    outcome: str = "connected",
    duration_seconds: float = 0,
    notes: str | None = None,
    touch_number: int = 1,
    sequence_id: uuid.UUID | str | None = None,
    now: datetime | None = None,
    touch: ScheduledTouch | None = None,
) -> Activity:
    """Record a completed call and return the saved voice_completed Activity.

    A booked meeting marks the Activity as leading to a booking, converts
    the lead, cancels its unsent touches and pauses its colleagues'
    enrollments (journey.colleagues, as a booking does); "wrong_number" marks the phone
    unusable (no more SMS or calls), "do_not_call" opts the lead out of
    calls; each in the same transaction as the record, and `touch` (when
    given) is marked sent with it. Raises InvalidTouch for an unknown
    outcome, a negative duration or text the database cannot store, and
    SendBlocked for a lead of another client. Neither opt-outs nor legal
    calling hours block the record: they gate placing a call, not recording one.
    """
    outgoing = send_path.start(
        lead,
        client,
        Channel.VOICE,
        now=now or timezone.now(),
        touch_number=touch_number,
        sequence_id=sequence_id,
        touch=touch,
        gated=False,
    )
    if outcome not in CALL_OUTCOMES:
        raise InvalidTouch(f"outcome must be one of {', '.join(CALL_OUTCOMES)}, got {outcome!r}")
    duration = check_duration(duration_seconds)
    send_path.check_text(script_content, what="a call script", required=False)
    send_path.check_text(notes, what="call notes", required=False)

    snapshot = call_snapshot(
        outgoing, script_id=script_id, script_content=script_content, outcome=outcome, duration=duration, notes=notes
    )
    activity = record_completed_call(outgoing, snapshot)
    lead.refresh_from_db(fields=["phone_unusable", "voice_opted_out"])
    return activity


def record_completed_call(outgoing: send_path.Outgoing, snapshot: dict[str, JSONValue]) -> Activity:
    """The Activity, the touch sent, and what the outcome changes on the lead, in one transaction."""
    # call_snapshot stored the outcome complete_call checked: one of CALL_OUTCOMES.
    lead, outcome = outgoing.lead, str(snapshot["outcome"])
    booked = outcome == "meeting_booked"
    with transaction.atomic():
        activity = record_touch(
            lead,
            outgoing.client,
            action="voice_completed",
            channel=Channel.VOICE,
            content_snapshot=snapshot,
            metadata={
                "outcome": outcome,
                "duration_seconds": snapshot["duration_seconds"],
                "script_id": snapshot["script_id"],
                "touch_number": outgoing.touch_number,
                "sequence_id": snapshot["sequence_id"],
            },
            at=outgoing.now,
            touch_number=outgoing.touch_number,
            sequence_id=outgoing.sequence_id,
            led_to_booking=booked,
            touch=outgoing.touch,
        )
        if booked:
            # record_touch converted the lead with the call (led_to_booking): what is left of its sequence ends.
            stop_contact(lead, StopReason.CONVERTED)
            pause_colleagues(lead, reason=StopReason.COLLEAGUE_CONVERTED, at=outgoing.now)
        apply_call_outcome(lead, outcome=outcome)
    return activity
