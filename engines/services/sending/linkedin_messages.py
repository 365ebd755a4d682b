"""What a LinkedIn touch may say (LinkedIn's own limits) and what is recorded of it, however it was sent.

Shared by the LinkedIn engine (a backend sends at once) and manual tasks (a person sent it).
"""

from __future__ import annotations

from typing import Literal

from engines.exceptions import InvalidTouch
from engines.json_types import JSONValue
from engines.services.sending import send_path

MessageType = Literal["connection_request", "inmail", "message"]
MESSAGE_TYPES: tuple[str, ...] = ("connection_request", "inmail", "message")
# LinkedIn's own limits: it refuses longer texts.
CONNECTION_NOTE_LIMIT = 300
MESSAGE_LIMIT = 8000
INMAIL_LIMIT = 1900
TEXT_LIMITS = {"connection_request": MESSAGE_LIMIT, "inmail": INMAIL_LIMIT, "message": MESSAGE_LIMIT}


def check_linkedin_text(message_type: str, message: str | None, connection_note: str | None) -> str | None:
    """The text a touch is analysed on (the note of a connection request, else the message); InvalidTouch if bad."""
    if message_type not in MESSAGE_TYPES:
        raise InvalidTouch(f"message_type must be one of {', '.join(MESSAGE_TYPES)}, got {message_type!r}")
    if connection_note is not None:
        send_path.check_text(connection_note, what="a LinkedIn connection note", limit=CONNECTION_NOTE_LIMIT)
    if message_type == "connection_request":
        send_path.check_text(message, what="a LinkedIn message", limit=MESSAGE_LIMIT, required=False)
        return connection_note
    send_path.check_text(message, what=f"a LinkedIn {message_type}", limit=TEXT_LIMITS[message_type])
    return message


def linkedin_record(
    outgoing: send_path.Outgoing, *, message_type: str, message: str, connection_note: str | None, delivery: str
) -> tuple[dict[str, JSONValue], dict[str, JSONValue]]:
    """The content snapshot and metadata of a LinkedIn touch (sent by a backend or by a person)."""
    analysed = connection_note if message_type == "connection_request" else message
    # A task is timed by the person who did it; a backend's send by the plan it followed.
    timed_by = "person" if delivery == "manual_task" else "send"
    snapshot = send_path.content_snapshot(outgoing, analysed, timed_by=timed_by)
    snapshot.update(message_type=message_type, body=message, connection_note=connection_note)
    metadata: dict[str, JSONValue] = {
        "delivery": delivery,
        "message_type": message_type,
        "touch_number": outgoing.touch_number,
        "sequence_id": snapshot["sequence_id"],
        "linkedin_profile_url": outgoing.lead.linkedin_url,
    }
    return snapshot, metadata
