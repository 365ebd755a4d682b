"""LinkedIn engine: hand one touch to the configured LinkedIn backend and record it.

The default backend (engines.providers.linkedin.ManualTaskBackend) turns the
touch into an open task for a person, kept in the Activity metadata.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from django.conf import settings
from django.utils import timezone

from engines.exceptions import InvalidTouch
from engines.providers import load_provider
from engines.providers.linkedin import LinkedInBackend
from engines.services.content import build_content_snapshot
from engines.services.touches import check_reachable, record_touch, touch_context
from outreach.models import Activity, Channel, Lead

MessageType = Literal["connection_request", "inmail", "message"]
MESSAGE_TYPES: tuple[str, ...] = ("connection_request", "inmail", "message")
# LinkedIn refuses a longer note on a connection request.
CONNECTION_NOTE_LIMIT = 300


def send_linkedin(
    lead: Lead,
    client: Any,
    message: str,
    *,
    message_type: MessageType = "message",
    connection_note: str | None = None,
    touch_number: int = 1,
    sequence_id: Any = None,
    now: datetime | None = None,
    backend: LinkedInBackend | None = None,
) -> Activity:
    """Send (or queue for a person) one LinkedIn touch and return the saved linkedin_sent Activity.

    A connection request is analysed on its note, anything else on the
    message. Raises SendBlocked (opted out, no profile URL) or InvalidTouch
    (unknown type, empty text, a note over 300 characters) before the backend
    is called.
    """
    now = now or timezone.now()
    check_reachable(lead, Channel.LINKEDIN)
    touch_number, sequence_uuid = touch_context(touch_number, sequence_id)
    if message_type not in MESSAGE_TYPES:
        raise InvalidTouch(f"message_type must be one of {', '.join(MESSAGE_TYPES)}, got {message_type!r}")
    if connection_note is not None and not isinstance(connection_note, str):
        raise InvalidTouch("connection_note must be text")
    if message_type == "connection_request":
        if connection_note is not None and len(connection_note) > CONNECTION_NOTE_LIMIT:
            raise InvalidTouch(
                f"a connection note is at most {CONNECTION_NOTE_LIMIT} characters on LinkedIn, "
                f"this one has {len(connection_note)}"
            )
        analysed = connection_note
    elif not isinstance(message, str) or not message.strip():
        raise InvalidTouch(f"a LinkedIn {message_type} needs a message")
    else:
        analysed = message

    snapshot = build_content_snapshot(
        analysed,
        lead,
        touch_number=touch_number,
        sequence_id=sequence_uuid,
        channel=Channel.LINKEDIN.value,
        sent_at=now,
        client=client,
    )
    snapshot.update(message_type=message_type, body=message, connection_note=connection_note)

    backend = backend or load_provider(settings.LINKEDIN_BACKEND)
    delivery = backend.send(
        profile_url=lead.linkedin_url,
        message_type=message_type,
        message=message,
        connection_note=connection_note,
        sender=client.name,
    )
    return record_touch(
        lead,
        client,
        action="linkedin_sent",
        channel=Channel.LINKEDIN,
        content_snapshot=snapshot,
        metadata={
            **delivery.details,
            "delivery": delivery.delivery,
            "provider_message_id": delivery.message_id,
            "message_type": message_type,
            "touch_number": touch_number,
            "sequence_id": snapshot["sequence_id"],
            "linkedin_profile_url": lead.linkedin_url,
        },
        at=now,
        touch_number=touch_number,
        sequence_id=sequence_uuid,
        provider_message_id=delivery.message_id,
    )
