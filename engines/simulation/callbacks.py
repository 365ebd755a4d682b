"""How the providers call Outreach back, for the demo: real HTTP requests to the real webhook views.

Each event of the response model becomes the request its provider would
make, with that provider's payload shape and authentication: Postmark
tracking and inbound webhooks through anymail (basic auth), Twilio status and
inbound callbacks (signed with X-Twilio-Signature), Cal.com bookings
(HMAC-SHA256 of the body), and the one-click unsubscribe POST a mail client
makes (RFC 8058). LinkedIn has no webhook: a person reads the reply and
records it, which the demo does through the same outcome service the admin
uses. Requests go through Django's test client, in process: nothing leaves
the machine.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from django.conf import settings
from django.http import HttpResponseBase
from django.test import Client as HttpClient
from django.urls import reverse
from twilio.request_validator import RequestValidator

from engines.services.outcomes import events
from engines.services.sending.unsubscribe import ONE_CLICK_POST, unsubscribe_token
from engines.simulation.responses import Event
from outreach.models import Activity, Client, Lead

OUT_OF_OFFICE = "Out of office: back on Monday"
REPLIES = (
    "Thanks for reaching out. Tuesday afternoon works, send me a link.",
    "Interesting timing, we were just talking about this. Happy to chat.",
    "Sure, let's talk next week.",
)


class CallbackFailed(RuntimeError):
    """A webhook view refused a request the demo made as the provider would: the demo stops and says so."""


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


class ProviderCallbacks:
    """Delivers response-model events as provider requests; counts what each view answered."""

    def __init__(self) -> None:
        self.http = HttpClient(HTTP_HOST="localhost")
        self.answered: dict[str, int] = {}

    def deliver(self, event: Event, activity: Activity, lead: Lead, client: Client) -> None:
        handler = getattr(self, f"_{event.kind}")
        response: HttpResponseBase | None = handler(event, activity, lead, client)
        if response is not None:
            if response.status_code >= 400:
                raise CallbackFailed(f"{event.kind} for lead {lead.pk} answered HTTP {response.status_code}")
            self.answered[event.kind] = self.answered.get(event.kind, 0) + 1

    # --- Postmark, through anymail ---------------------------------------------------------------------------

    def _postmark(self, kind: str, payload: dict[str, object]) -> HttpResponseBase:
        secret = settings.ANYMAIL["WEBHOOK_SECRET"]
        auth = "Basic " + base64.b64encode(secret.encode()).decode()
        url = reverse(f"anymail:postmark_{kind}_webhook")
        return self.http.post(url, data=json.dumps(payload), content_type="application/json", HTTP_AUTHORIZATION=auth)

    def _tracking(
        self, record_type: str, activity: Activity, lead: Lead, at: datetime, **fields: object
    ) -> HttpResponseBase:
        payload: dict[str, object] = {
            "RecordType": record_type,
            "MessageStream": "outbound",
            "MessageID": activity.provider_message_id,
            "Recipient": lead.email,
            "Metadata": {"lead_id": str(lead.pk)},
            **fields,
        }
        return self._postmark("tracking", payload)

    def _delivered(self, event: Event, activity: Activity, lead: Lead, client: Client) -> HttpResponseBase:
        return self._tracking("Delivery", activity, lead, event.at, DeliveredAt=_iso(event.at), Details="OK")

    def _opened(self, event: Event, activity: Activity, lead: Lead, client: Client) -> HttpResponseBase:
        return self._tracking("Open", activity, lead, event.at, FirstOpen=True, ReceivedAt=_iso(event.at))

    def _bounce(self, kind: str, event: Event, activity: Activity, lead: Lead) -> HttpResponseBase:
        return self._tracking(
            "Bounce", activity, lead, event.at, ID=activity.pk.int % 10**12, Type=kind,
            Email=lead.email, BouncedAt=_iso(event.at), Description="Simulated bounce", Inactive=kind == "HardBounce",
        )  # fmt: skip

    def _bounced(self, event: Event, activity: Activity, lead: Lead, client: Client) -> HttpResponseBase:
        return self._bounce("HardBounce", event, activity, lead)

    def _deferred(self, event: Event, activity: Activity, lead: Lead, client: Client) -> HttpResponseBase:
        return self._bounce("SoftBounce", event, activity, lead)

    def _inbound_email(
        self, event: Event, activity: Activity, lead: Lead, client: Client, text: str, **headers: str
    ) -> HttpResponseBase:
        subject = headers.pop("subject", f"Re: {activity.content_snapshot.get('subject', '')}")
        # Postmark gives every inbound email its own id: an auto-reply and a later reply are two events.
        reply_id = f"reply-{activity.pk}-{int(event.at.timestamp())}"
        # A reply goes to the address the email came from: its mailbox's, else the client's.
        to = activity.mailbox.address if activity.mailbox else client.sending_email
        payload: dict[str, object] = {
            "From": lead.email,
            "FromFull": {"Email": lead.email, "Name": lead.first_name, "MailboxHash": ""},
            "To": to,
            "ToFull": [{"Email": to, "Name": "", "MailboxHash": ""}],
            "CcFull": [],
            "BccFull": [],
            "Subject": subject,
            "MessageID": reply_id,
            "Date": format_datetime(event.at),
            "TextBody": text,
            "HtmlBody": "",
            "StrippedTextReply": text,
            "Headers": [
                {"Name": "Message-ID", "Value": f"<{reply_id}@{lead.email.split('@')[-1]}>"},
                {"Name": "In-Reply-To", "Value": f"<{activity.provider_message_id}>"},
                *({"Name": name, "Value": value} for name, value in headers.items()),
            ],
            "Attachments": [],
        }
        return self._postmark("inbound", payload)

    def _auto_reply(self, event: Event, activity: Activity, lead: Lead, client: Client) -> HttpResponseBase:
        return self._inbound_email(
            event, activity, lead, client, "I am away until Monday with limited access to email.",
            subject=OUT_OF_OFFICE, **{"Auto-Submitted": "auto-replied"},
        )  # fmt: skip

    def _reply(self, event: Event, activity: Activity, lead: Lead, client: Client) -> HttpResponseBase | None:
        text = REPLIES[lead.pk % len(REPLIES)]
        if event.channel == "email":
            return self._inbound_email(event, activity, lead, client, text)
        if event.channel == "sms":
            return self._twilio_inbound(event, lead, client, text)
        if event.channel != "linkedin":
            return None  # a call that went well is its own outcome; the booking follows through Cal.com
        # LinkedIn has no webhook: the person who read the reply records it.
        events.record_reply(
            lead, channel=event.channel, provider="person", event_id=f"reply:{activity.pk}", at=event.at,
            answers=activity, metadata={"text": text},
        )  # fmt: skip
        return None

    def _unsubscribe(self, event: Event, activity: Activity, lead: Lead, client: Client) -> HttpResponseBase:
        url = reverse("unsubscribe", args=[unsubscribe_token(lead)])
        key, value = ONE_CLICK_POST.split("=")
        return self.http.post(url, data={key: value})

    # --- Twilio ----------------------------------------------------------------------------------------------

    def _twilio(self, url_name: str, params: dict[str, str]) -> HttpResponseBase:
        url = settings.PUBLIC_BASE_URL + reverse(url_name)
        signature = RequestValidator(settings.TWILIO_AUTH_TOKEN).compute_signature(url, params)
        return self.http.post(reverse(url_name), data=params, HTTP_X_TWILIO_SIGNATURE=signature)

    def _sms_status(self, status: str, activity: Activity, lead: Lead, client: Client) -> HttpResponseBase:
        params = {
            "MessageSid": activity.provider_message_id,
            "MessageStatus": status,
            "To": lead.phone,
            "From": client.sending_phone,
            "AccountSid": "AC" + "0" * 32,
        }
        if status == "undelivered":
            params["ErrorCode"] = "30003"
        return self._twilio("twilio-sms-status", params)

    def _sms_delivered(self, event: Event, activity: Activity, lead: Lead, client: Client) -> HttpResponseBase:
        return self._sms_status("delivered", activity, lead, client)

    def _sms_undelivered(self, event: Event, activity: Activity, lead: Lead, client: Client) -> HttpResponseBase:
        return self._sms_status("undelivered", activity, lead, client)

    def _twilio_inbound(self, event: Event, lead: Lead, client: Client, body: str) -> HttpResponseBase:
        params = {
            "MessageSid": "SM" + uuid.uuid5(uuid.NAMESPACE_URL, f"inbound:{lead.pk}:{event.at.isoformat()}").hex,
            "From": lead.phone,
            "To": client.sending_phone,
            "Body": body,
            "AccountSid": "AC" + "0" * 32,
        }
        return self._twilio("twilio-sms-inbound", params)

    def _stop(self, event: Event, activity: Activity, lead: Lead, client: Client) -> HttpResponseBase:
        return self._twilio_inbound(event, lead, client, "STOP")

    # --- Cal.com ---------------------------------------------------------------------------------------------

    def _booking(self, event: Event, activity: Activity, lead: Lead, client: Client) -> HttpResponseBase:
        body = json.dumps(
            {
                "triggerEvent": "BOOKING_CREATED",
                "createdAt": _iso(event.at),
                "payload": {
                    "type": "30min",
                    "title": f"Intro call: {client.name} and {lead.first_name}",
                    "startTime": _iso(event.at + timedelta(days=3)),
                    "endTime": _iso(event.at + timedelta(days=3, minutes=30)),
                    "organizer": {"email": client.sending_email, "name": client.sender_name},
                    "attendees": [{"email": lead.email, "name": lead.first_name}],
                    "uid": f"demo-booking-{activity.pk}",
                },
            }
        ).encode()
        signature = hmac.new(settings.CAL_COM_WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
        return self.http.post(
            reverse("booking-webhook"), data=body, content_type="application/json", HTTP_X_CAL_SIGNATURE_256=signature
        )
