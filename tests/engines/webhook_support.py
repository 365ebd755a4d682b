"""What the webhook tests share: a lead with a sent touch and the rest of its sequence planned, and ways to
call the real URLs as the providers do (Postmark's documented payloads with basic auth, signed Twilio forms,
signed Cal.com JSON)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from twilio.request_validator import RequestValidator

from outreach.models import Activity, Lead, ScheduledTouch
from tests.factories import ActivityFactory, LeadFactory, ScheduledTouchFactory

WEBHOOK_SECRET = "hook-user:hook-password"
TWILIO_TOKEN = "test-twilio-auth-token"
CAL_SECRET = "test-cal-secret"


@dataclass
class Sequence:
    """A lead whose first touch (email, or SMS) went out and whose touches 2 (email) and 3 (SMS) are planned."""

    lead: Lead
    sent: Activity
    planned: list[ScheduledTouch]

    def statuses(self) -> list[str]:
        return [ScheduledTouch.objects.get(pk=touch.pk).status for touch in self.planned]

    def refresh(self) -> Lead:
        self.lead.refresh_from_db()
        return self.lead


def sequence(*, channel: str = "email", message_id: str | None = None, lead: Lead | None = None) -> Sequence:
    lead = lead or LeadFactory.create(status="in_sequence")
    sequence_id = uuid.uuid4()
    sent = ActivityFactory.create(
        lead=lead,
        action=f"{channel}_sent",
        channel=channel,
        touch_number=1,
        sequence_id=sequence_id,
        provider_message_id=message_id or f"msg-{uuid.uuid4()}",
        created_at=timezone.now() - timedelta(days=2),
    )
    ScheduledTouchFactory(
        lead=lead, sequence_id=sequence_id, touch_number=1, channel=channel, status="sent", activity=sent
    )
    planned = [
        ScheduledTouchFactory.create(lead=lead, sequence_id=sequence_id, touch_number=2, channel="email"),
        ScheduledTouchFactory.create(lead=lead, sequence_id=sequence_id, touch_number=3, channel="sms"),
    ]
    return Sequence(lead=lead, sent=sent, planned=planned)


def basic_auth(secret: str = WEBHOOK_SECRET) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(secret.encode()).decode()}


def post_json(http, url: str, payload, **extra):
    body = payload if isinstance(payload, (str, bytes)) else json.dumps(payload)
    return http.post(url, data=body, content_type="application/json", **extra)


def postmark_tracking(http, payload, *, secret: str = WEBHOOK_SECRET):
    auth = basic_auth(secret) if secret else {}
    return post_json(http, reverse("anymail:postmark_tracking_webhook"), payload, **auth)


def postmark_inbound(http, payload, *, secret: str = WEBHOOK_SECRET):
    return post_json(http, reverse("anymail:postmark_inbound_webhook"), payload, **basic_auth(secret))


def twilio_post(http, url_name: str, params: dict[str, str], *, token: str = TWILIO_TOKEN, base: str | None = None):
    """POST `params` to the named Twilio view, signed as Twilio signs it (PUBLIC_BASE_URL + path by default)."""
    url = (base or settings.PUBLIC_BASE_URL) + reverse(url_name)
    signature = RequestValidator(token).compute_signature(url, params)
    return http.post(reverse(url_name), data=params, HTTP_X_TWILIO_SIGNATURE=signature)


def cal_signature(body: bytes, secret: str = CAL_SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def cal_post(http, payload, *, secret: str | None = CAL_SECRET):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {"HTTP_X_CAL_SIGNATURE_256": cal_signature(body, secret)} if secret is not None else {}
    return http.post(reverse("booking-webhook"), data=body, content_type="application/json", **headers)


def cal_booking(attendee: str, *, organizer: str = "", uid: str = "booking-uid-1", trigger="BOOKING_CREATED"):
    """A Cal.com webhook body of the documented shape."""
    return {
        "triggerEvent": trigger,
        "createdAt": timezone.now().isoformat(),
        "payload": {
            "type": "30min",
            "title": "30 min meeting between Pat and Alex",
            "startTime": (timezone.now() + timedelta(days=3)).isoformat(),
            "endTime": (timezone.now() + timedelta(days=3, minutes=30)).isoformat(),
            "organizer": {"email": organizer, "name": "Alex", "timeZone": "Australia/Sydney"},
            "attendees": [{"email": attendee, "name": "Pat", "timeZone": "Australia/Sydney"}],
            "uid": uid,
            "bookingId": 91,
            "status": "ACCEPTED",
        },
    }


def outcome_rows(lead: Lead, *actions: str) -> list[Activity]:
    rows = Activity.objects.filter(lead=lead).exclude(action__endswith="_sent")
    if actions:
        rows = rows.filter(action__in=actions)
    return list(rows.order_by("created_at"))
