"""Voice engine: record a completed call (the call itself is made by a person or a dialer)."""

from __future__ import annotations

import math
from datetime import datetime
from numbers import Real
from typing import Any, Literal

from django.utils import timezone

from engines.exceptions import InvalidTouch
from engines.services.content import build_content_snapshot
from engines.services.touches import check_reachable, record_touch, touch_context
from outreach.models import Activity, Channel, Lead

CallOutcome = Literal["connected", "voicemail", "no_answer", "busy", "wrong_number", "meeting_booked"]
CALL_OUTCOMES: tuple[str, ...] = ("connected", "voicemail", "no_answer", "busy", "wrong_number", "meeting_booked")


def complete_call(
    lead: Lead,
    client: Any,
    *,
    script_id: Any = None,
    script_content: str | None = None,
    outcome: CallOutcome = "connected",
    duration_seconds: int = 0,
    notes: str | None = None,
    touch_number: int = 1,
    sequence_id: Any = None,
    now: datetime | None = None,
) -> Activity:
    """Record a completed call and return the saved voice_completed Activity.

    A booked meeting marks the Activity as leading to a booking and converts
    the lead. Raises SendBlocked for a lead that may not be called (do not
    contact, opted out, no valid phone) and InvalidTouch for an unknown
    outcome or a negative duration. Legal calling hours are the dialer's and
    the planner's concern: a call that happened is recorded whenever it ends.
    """
    now = now or timezone.now()
    check_reachable(lead, Channel.VOICE)
    touch_number, sequence_uuid = touch_context(touch_number, sequence_id)
    if outcome not in CALL_OUTCOMES:
        raise InvalidTouch(f"outcome must be one of {', '.join(CALL_OUTCOMES)}, got {outcome!r}")
    if (
        isinstance(duration_seconds, bool)
        or not isinstance(duration_seconds, Real)
        or not math.isfinite(duration_seconds)
        or duration_seconds < 0
    ):
        raise InvalidTouch(f"duration_seconds must be a number of seconds from 0, got {duration_seconds!r}")
    duration = round(duration_seconds)

    snapshot = build_content_snapshot(
        script_content,
        lead,
        touch_number=touch_number,
        sequence_id=sequence_uuid,
        channel=Channel.VOICE.value,
        sent_at=now,
        client=client,
    )
    snapshot.update(
        script_id=str(script_id) if script_id is not None else None,
        script_content=script_content,
        outcome=outcome,
        duration_seconds=duration,
        duration_minutes=round(duration / 60, 1),
        notes=notes,
        completed_at=snapshot["sent_at"],
    )
    booked = outcome == "meeting_booked"
    return record_touch(
        lead,
        client,
        action="voice_completed",
        channel=Channel.VOICE,
        content_snapshot=snapshot,
        metadata={
            "outcome": outcome,
            "duration_seconds": duration,
            "script_id": snapshot["script_id"],
            "touch_number": touch_number,
            "sequence_id": snapshot["sequence_id"],
        },
        at=now,
        touch_number=touch_number,
        sequence_id=sequence_uuid,
        led_to_booking=booked,
    )
