"""Bookings: Cal.com booking events, signed with HMAC-SHA256 of the raw body (CAL_COM_WEBHOOK_SECRET).

Cal.com sends every booking event to one URL. The lead is an attendee who is a lead of the client whose
sending email is the organizer's email, and of no other client (outcomes.bookings.booking_lead); what each
event does is outcomes.bookings'. The settings page's "Ping test" is answered 200 and stores nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from engines.json_types import JSONValue
from engines.rules.provider_input import clean, parse_moment
from engines.services.outcomes.bookings import MeetingEvent, booking_lead, record_meeting_event
from engines.webhooks.common import MAX_CALLBACK_BYTES, logger, too_big

TRIGGERS = {
    "BOOKING_REQUESTED": MeetingEvent.REQUESTED,
    "BOOKING_CREATED": MeetingEvent.BOOKED,
    "BOOKING_RESCHEDULED": MeetingEvent.RESCHEDULED,
    "BOOKING_CANCELLED": MeetingEvent.CANCELLED,
}


def _cal_signature_ok(request: HttpRequest) -> bool:
    secret = getattr(settings, "CAL_COM_WEBHOOK_SECRET", "")
    if not secret:
        logger.error("booking webhook refused: CAL_COM_WEBHOOK_SECRET is not set")
        return False
    expected = hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
    given = request.headers.get("X-Cal-Signature-256", "").strip().lower().removeprefix("sha256=")
    return hmac.compare_digest(expected, given)


@csrf_exempt
@login_not_required
@require_POST
def booking_webhook(request: HttpRequest) -> HttpResponse:
    """Cal.com booking events, signed with HMAC-SHA256 of the raw body: stored against the attendee's lead."""
    if refused := too_big(request, MAX_CALLBACK_BYTES):
        return refused
    if not _cal_signature_ok(request):
        logger.warning("booking webhook refused: missing or wrong X-Cal-Signature-256")
        return HttpResponse("invalid signature", status=403)
    try:
        data = clean(json.loads(request.body))  # no NUL or lone surrogate; TooDeep past any booking's depth
        trigger = str(data["triggerEvent"])
        # The ping carries a sample booking without a uid: it is answered before a booking is looked for.
        if trigger == "PING":
            return JsonResponse({"status": "pong"})
        if trigger not in TRIGGERS:
            return JsonResponse({"status": "ignored", "trigger": trigger[:50]})
        payload = data["payload"]
        uid = str(payload["uid"])
        attendees = [str(a["email"]).strip() for a in payload["attendees"] if a.get("email")]
        organizer = str((payload.get("organizer") or {}).get("email") or "").strip()
        previous_uid = str(payload.get("rescheduleUid") or payload.get("fromReschedule") or "")
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        logger.warning("booking webhook refused: malformed body (%s: %s)", type(exc).__name__, exc)
        return HttpResponse("malformed body", status=400)
    lead = booking_lead(attendees, organizer)
    if lead is None:
        logger.warning("booking %s: no lead of the organizer's client (%s) among %s", uid, organizer, attendees)
        return HttpResponse("no lead for the attendees", status=404)
    event = TRIGGERS[trigger]
    # A booking is dated when it was made (the payload's createdAt); a change, when Cal.com sent it.
    moments = (payload.get("createdAt"), data.get("createdAt"))
    if event != MeetingEvent.BOOKED:
        moments = moments[::-1]
    # A date that does not parse (month 13, a number) is left out: the booking is what matters, and its uid
    # alone names it, so a replay is still stored once.
    at = parse_moment(moments[0] or moments[1]) or timezone.now()
    if timezone.is_naive(at):
        at = timezone.make_aware(at, UTC)
    meta: dict[str, JSONValue] = {"uid": uid, "title": str(payload.get("title", ""))[:200]}
    if parse_moment(payload.get("startTime")) is not None:
        meta["start"] = str(payload["startTime"])
    activity = record_meeting_event(
        lead, event, provider="calcom", uid=uid, at=at, metadata=meta, previous_uid=previous_uid
    )
    return JsonResponse({"status": "recorded", "activity": str(activity.pk)})
