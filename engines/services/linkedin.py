"""LinkedIn engine: hand one touch to the configured LinkedIn backend and record it.

The default backend (engines.providers.linkedin.ManualTaskBackend) sends
nothing: the touch becomes a ManualTask for a person, and `linkedin_sent` is
recorded only when that person marks the task done
(engines.services.manual_tasks.complete_task), with the text actually sent.
An automation backend sends at once and the touch is recorded then.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from django.conf import settings
from django.utils import timezone

from engines.exceptions import InvalidTouch
from engines.providers import load_provider
from engines.providers.linkedin import LinkedInBackend, ManualTaskBackend
from engines.services import manual_tasks, sending
from outreach.models import Activity, Channel, Client, Lead, ManualTask, ScheduledTouch, TaskKind

MessageType = Literal["connection_request", "inmail", "message"]
MESSAGE_TYPES: tuple[str, ...] = ("connection_request", "inmail", "message")
# LinkedIn's own limits: it refuses longer texts.
CONNECTION_NOTE_LIMIT = 300
MESSAGE_LIMIT = 8000
INMAIL_LIMIT = 1900
TEXT_LIMITS = {"connection_request": MESSAGE_LIMIT, "inmail": INMAIL_LIMIT, "message": MESSAGE_LIMIT}


def check_linkedin_text(message_type: Any, message: Any, connection_note: Any) -> str | None:
    """The text a touch is analysed on (the note of a connection request, else the message); InvalidTouch if bad."""
    if message_type not in MESSAGE_TYPES:
        raise InvalidTouch(f"message_type must be one of {', '.join(MESSAGE_TYPES)}, got {message_type!r}")
    if connection_note is not None:
        sending.check_text(connection_note, what="a LinkedIn connection note", limit=CONNECTION_NOTE_LIMIT)
    if message_type == "connection_request":
        sending.check_text(message, what="a LinkedIn message", limit=MESSAGE_LIMIT, required=False)
        return connection_note
    sending.check_text(message, what=f"a LinkedIn {message_type}", limit=TEXT_LIMITS[message_type])
    return message


def linkedin_record(
    outgoing: sending.Outgoing, *, message_type: str, message: str, connection_note: str | None, delivery: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The content snapshot and metadata of a LinkedIn touch (sent by a backend or by a person)."""
    analysed = connection_note if message_type == "connection_request" else message
    snapshot = sending.content_snapshot(outgoing, analysed)
    snapshot.update(message_type=message_type, body=message, connection_note=connection_note)
    metadata = {
        "delivery": delivery,
        "message_type": message_type,
        "touch_number": outgoing.touch_number,
        "sequence_id": snapshot["sequence_id"],
        "linkedin_profile_url": outgoing.lead.linkedin_url,
    }
    return snapshot, metadata


def send_linkedin(
    lead: Lead,
    client: Client,
    message: str,
    *,
    message_type: MessageType = "message",
    connection_note: str | None = None,
    touch_number: int = 1,
    sequence_id: Any = None,
    now: datetime | None = None,
    backend: LinkedInBackend | ManualTaskBackend | None = None,
    touch: ScheduledTouch | None = None,
    lead_is_current: bool = False,
) -> Activity | ManualTask:
    """Send one LinkedIn touch through an automation backend (the saved linkedin_sent Activity), or, with
    the default manual backend, open a ManualTask for a person (returned; nothing is recorded as sent yet).

    A connection request is analysed on its note, anything else on the
    message. Raises SendBlocked (opted out, no or not one LinkedIn profile
    URL, a lead of another client) or InvalidTouch (unknown type, empty
    text, over LinkedIn's limits, text the database cannot store) before
    the backend is called; SentNotRecorded when the backend sent and the
    record failed. `lead_is_current`: the caller has just read the lead.
    """
    outgoing = sending.start(
        lead,
        client,
        Channel.LINKEDIN,
        now=now or timezone.now(),
        touch_number=touch_number,
        sequence_id=sequence_id,
        touch=touch,
        lead_is_current=lead_is_current,
    )
    check_linkedin_text(message_type, message, connection_note)
    profile_url = sending.linkedin_profile(lead.linkedin_url)
    chosen = backend or load_provider(settings.LINKEDIN_BACKEND)
    if isinstance(chosen, ManualTaskBackend):
        return manual_tasks.open_task(
            outgoing, kind=TaskKind.LINKEDIN, message=message, subject=connection_note or "", due_at=outgoing.now
        )

    snapshot, metadata = linkedin_record(
        outgoing, message_type=message_type, message=message, connection_note=connection_note, delivery="sent"
    )

    def send(_: object) -> sending.Sent:
        delivery = chosen.send(
            profile_url=profile_url,
            message_type=message_type,
            message=message,
            connection_note=connection_note,
            sender=client.name,
        )
        return sending.Sent(delivery.message_id, {**delivery.details, "delivery": delivery.delivery})

    return sending.deliver(sending.Prepared(outgoing, "linkedin_sent", snapshot, metadata, send=send))
