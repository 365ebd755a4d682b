"""What every provider callback shares: body size limits, the malformed-event error, and what became of each
event of the current anymail request."""

from __future__ import annotations

import contextvars
import logging

from django.http import HttpRequest, HttpResponse

logger = logging.getLogger("engines.webhooks")

# Tracking batches (SendGrid posts at most 768 kB) and callbacks are small; an inbound email may carry attachments.
MAX_CALLBACK_BYTES = 1_000_000
MAX_INBOUND_BYTES = 30_000_000


class MalformedEvent(Exception):
    """A webhook event that lacks what we need (message id, sender...): answered 400, nothing written."""


# What the receivers made of each event of the current anymail request ("recorded", "replayed", "ignored",
# "unknown"): a request whose every event names a message we never sent answers 404.
event_results: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("event_results", default=None)


def note(result: str) -> None:
    results = event_results.get()
    if results is not None:
        results.append(result)


def _content_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def too_big(request: HttpRequest, limit: int) -> HttpResponse | None:
    if _content_length(request) > limit:
        logger.warning("webhook %s refused: body of %s bytes over %s", request.path, _content_length(request), limit)
        return HttpResponse("payload too large", status=413)
    return None
