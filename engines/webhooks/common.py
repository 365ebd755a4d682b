"""What every provider callback shares: body size limits, the malformed-event error, and what became of each
event of the current anymail request."""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable
from datetime import datetime
from typing import TypedDict

from django.http import HttpRequest, HttpResponse

logger = logging.getLogger("engines.webhooks")

# Tracking batches (SendGrid posts at most 768 kB) and callbacks are small; an inbound email may carry attachments.
MAX_CALLBACK_BYTES = 1_000_000
MAX_INBOUND_BYTES = 30_000_000


class EventSource(TypedDict):
    """Who reported an event, under which id, and when: the arguments every outcome service takes."""

    provider: str
    event_id: str
    at: datetime


class MalformedEvent(Exception):
    """A webhook event that lacks what we need (message id, sender...): answered 400, nothing written."""


# The writes of the current anymail request, queued by the receivers while anymail parses the request: the
# guard runs them once every event of the request has parsed and validated. Each returns what became of its
# event ("recorded", "replayed", "ignored", "unknown").
pending_writes: contextvars.ContextVar[list[Callable[[], str]] | None] = contextvars.ContextVar(
    "pending_writes", default=None
)


def write_or_queue(write: Callable[[], str]) -> None:
    """Queue the write when a guarded request is being parsed; outside one (a signal sent directly), write now."""
    queue = pending_writes.get()
    if queue is None:
        write()
    else:
        queue.append(write)


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
