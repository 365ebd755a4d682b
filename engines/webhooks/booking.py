"""Bookings: Cal.com BOOKING_CREATED, signed with HMAC-SHA256 of the raw body (CAL_COM_WEBHOOK_SECRET).

Cal.com sends every booking to one URL. The client is the one whose sending
email is the organizer's email; when no client matches the organizer, an
attendee email that belongs to exactly one lead across all clients still
finds it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import operator
from datetime import UTC
from functools import reduce

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from engines.rules.provider_input import clean, parse_moment
from engines.services.outcomes import events
from engines.webhooks.common import MAX_CALLBACK_BYTES, logger, too_big
from outreach.models import Lead


def _cal_signature_ok(request: HttpRequest) -> bool:
    secret = getattr(settings, "CAL_COM_WEBHOOK_SECRET", "")
    if not secret:
        logger.error("booking webhook refused: CAL_COM_WEBHOOK_SECRET is not set")
        return False
    expected = hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
    given = request.headers.get("X-Cal-Signature-256", "").strip().lower().removeprefix("sha256=")
    return hmac.compare_digest(expected, given)


def booking_lead(attendee_emails: list[str], organizer_email: str) -> Lead | None:
    """The lead who booked: an attendee at the organizer's client, else an attendee who is one lead anywhere."""
    leads = Lead.objects.filter(reduce(operator.or_, (Q(email__iexact=email) for email in attendee_emails)))
    if organizer_email:
        at_client = list(leads.filter(client__sending_email__iexact=organizer_email)[:1])
        if at_client:
            return at_client[0]
    anywhere = list(leads[:2])
    return anywhere[0] if len(anywhere) == 1 else None


@csrf_exempt
@login_not_required
@require_POST
def booking_webhook(request: HttpRequest) -> HttpResponse:
    """Cal.com BOOKING_CREATED, signed with HMAC-SHA256 of the raw body: the attendee's lead is converted."""
    if refused := too_big(request, MAX_CALLBACK_BYTES):
        return refused
    if not _cal_signature_ok(request):
        logger.warning("booking webhook refused: missing or wrong X-Cal-Signature-256")
        return HttpResponse("invalid signature", status=403)
    try:
        data = clean(json.loads(request.body))  # no NUL or lone surrogate; TooDeep past any booking's depth
        trigger, payload = data["triggerEvent"], data["payload"]
        uid = str(payload["uid"])
        attendees = [str(a["email"]).strip() for a in payload["attendees"] if a.get("email")]
        organizer = str((payload.get("organizer") or {}).get("email") or "").strip()
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        logger.warning("booking webhook refused: malformed body (%s: %s)", type(exc).__name__, exc)
        return HttpResponse("malformed body", status=400)
    if trigger != "BOOKING_CREATED":
        return JsonResponse({"status": "ignored", "trigger": str(trigger)[:50]})
    lead = booking_lead(attendees, organizer) if attendees else None
    if lead is None:
        logger.warning("booking %s: no single lead for attendees %s (organizer %s)", uid, attendees, organizer)
        return HttpResponse("no lead for the attendees", status=404)
    # A date that does not parse (month 13, a number) is left out: the booking is what matters, and its uid
    # alone names it, so a replay is still stored once.
    at = parse_moment(payload.get("createdAt") or data.get("createdAt")) or timezone.now()
    if timezone.is_naive(at):
        at = timezone.make_aware(at, UTC)
    meta = {"uid": uid, "title": str(payload.get("title", ""))[:200]}
    if parse_moment(payload.get("startTime")) is not None:
        meta["start"] = str(payload["startTime"])
    activity = events.record_booking(lead, source="calcom", event_id=f"booking_created:{uid}", at=at, metadata=meta)
    return JsonResponse({"status": "recorded", "activity": str(activity.pk)})
