"""An email backend whose sends can be counted across processes: anymail's test backend, writing one JSON line
per message to the file named by RECORDING_EMAIL_FILE (appends of whole lines, so workers never interleave),
after RECORDING_EMAIL_LATENCY seconds (a provider's round-trip; default 0).

Selected with EMAIL_BACKEND=tests.integration.recording_email.EmailBackend, e.g. in a `qcluster` subprocess.
"""

from __future__ import annotations

import json
import os
import time
import uuid

from anymail.backends.test import EmailBackend as AnymailTestBackend
from anymail.message import AnymailRecipientStatus


class EmailBackend(AnymailTestBackend):
    def post_to_esp(self, payload, message):
        latency = float(os.environ.get("RECORDING_EMAIL_LATENCY") or 0)
        if latency:
            time.sleep(latency)
        message_id = uuid.uuid4().hex
        path = os.environ.get("RECORDING_EMAIL_FILE")
        if path:
            line = {
                "message_id": message_id,
                "to": payload.recipient_emails,
                "metadata": payload.get_params().get("metadata", {}),
                "pid": os.getpid(),
            }
            with open(path, "a", encoding="utf-8") as recording:
                recording.write(json.dumps(line) + "\n")
        status = AnymailRecipientStatus(message_id=message_id, status="sent")
        return {"recipient_status": {email: status for email in payload.recipient_emails}}


def recorded(path: str) -> list[dict]:
    """The messages recorded in `path`, in the order they were sent."""
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as recording:
        return [json.loads(line) for line in recording if line.strip()]
