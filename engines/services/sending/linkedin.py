"""LinkedIn engine: hand one touch to the configured LinkedIn backend and record it.

The default backend (engines.providers.linkedin.ManualTaskBackend) sends
nothing: the touch becomes a ManualTask for a person, and `linkedin_sent` is
recorded only when that person marks the task done
(engines.services.sending.manual_tasks.complete_task), with the text actually sent.
An automation backend sends at once and the touch is recorded then.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import cast

from django.conf import settings
from django.utils import timezone

from engines.providers import load_provider
from engines.providers.linkedin import LinkedInBackend, ManualTaskBackend
from engines.services.sending import manual_tasks, send_path
from engines.services.sending.linkedin_messages import MessageType, check_linkedin_text, linkedin_record
from outreach.models import Activity, Channel, Client, Lead, ManualTask, ScheduledTouch, TaskKind


def send_linkedin(
    lead: Lead,
    client: Client,
    message: str,
    *,
    message_type: MessageType = "message",
    connection_note: str | None = None,
    touch_number: int = 1,
    sequence_id: uuid.UUID | str | None = None,
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
    outgoing = send_path.start(
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
    profile_url = send_path.linkedin_profile(lead.linkedin_url)
    chosen = backend or cast(LinkedInBackend | ManualTaskBackend, load_provider(settings.LINKEDIN_BACKEND))
    if isinstance(chosen, ManualTaskBackend):
        return manual_tasks.open_task(
            outgoing, kind=TaskKind.LINKEDIN, message=message, subject=connection_note or "", due_at=outgoing.now
        )

    snapshot, metadata = linkedin_record(
        outgoing, message_type=message_type, message=message, connection_note=connection_note, delivery="sent"
    )

    def send(_: object) -> send_path.Sent:
        delivery = chosen.send(
            profile_url=profile_url,
            message_type=message_type,
            message=message,
            connection_note=connection_note,
            sender=client.name,
        )
        return send_path.Sent(delivery.message_id, {**delivery.details, "delivery": delivery.delivery})

    return send_path.deliver(send_path.Prepared(outgoing, "linkedin_sent", snapshot, metadata, send=send))
