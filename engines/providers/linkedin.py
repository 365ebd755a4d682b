"""LinkedIn backends, chosen by settings.LINKEDIN_BACKEND.

LinkedIn has no public API for sending messages or connection requests, so
the default backend does not send: the engine turns the touch into a
ManualTask for a person (open the profile, paste the text, see
task_instructions) and records the touch when the person marks it done. An
automation service can replace it with a backend that has `send` and returns
its own message id.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

from engines.json_types import JSONValue


@dataclass(frozen=True)
class LinkedInDelivery:
    """What a backend did with a touch: `delivery` says how, `details` go into the Activity metadata."""

    message_id: str
    delivery: str
    details: dict[str, JSONValue] = field(default_factory=dict)


class LinkedInBackend(Protocol):
    def send(
        self, *, profile_url: str, message_type: str, message: str, connection_note: str | None, sender: str
    ) -> LinkedInDelivery: ...


def task_instructions(*, profile_url: str, message_type: str, message: str, connection_note: str | None) -> str:
    """What the person doing the touch by hand is asked to do."""
    if message_type == "connection_request":
        if connection_note:
            return f"Open {profile_url}, click Connect, add a note and paste exactly:\n\n{connection_note}"
        return f"Open {profile_url} and click Connect without a note."
    if message_type == "inmail":
        return f"Open {profile_url}, send an InMail and paste exactly:\n\n{message}"
    return f"Open {profile_url}, click Message and paste exactly:\n\n{message}"


class ManualTaskBackend:
    """The default: sends nothing. The engine opens a ManualTask for a person instead, and records the touch
    when that person marks the task done (engines.services.sending.manual_tasks)."""


class RecordingLinkedInBackend:
    """Sends nothing: keeps each call in `outbox` for tests, standing in for an automation service."""

    outbox: ClassVar[list[dict[str, str | None]]] = []

    def send(
        self, *, profile_url: str, message_type: str, message: str, connection_note: str | None, sender: str
    ) -> LinkedInDelivery:
        message_id = f"li-{uuid.uuid4().hex}"
        self.outbox.append(
            {
                "profile_url": profile_url,
                "message_type": message_type,
                "message": message,
                "connection_note": connection_note,
                "sender": sender,
                "message_id": message_id,
            }
        )
        return LinkedInDelivery(message_id=message_id, delivery="sent")
