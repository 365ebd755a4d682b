"""Each supported ESP's own webhook payloads, after a real send through its anymail backend.

For Postmark, Mailgun, Resend and SendGrid: a touch is sent by deliver_touch with the ESP's backend faked at its
HTTP layer (the ESP's send response gives the message id), then the ESP's event payloads are posted to anymail's
real URLs, authenticated as each ESP does (basic auth always; Mailgun's HMAC with its signing key; Resend's svix
signature; SendGrid's signature is optional and off here). The payload shapes are those of anymail's own test
suite (tests/test_<esp>_webhooks.py, test_<esp>_inbound.py), with our message id and lead put in.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
from django.urls import reverse
from svix.webhooks import Webhook

from engines.services.sending.outbox import deliver_touch
from outreach.models import Activity
from tests.engines.providers.fakes import FakeEspHttp, http_response
from tests.engines.webhook_support import WEBHOOK_SECRET, Sequence, basic_auth, outcome_rows
from tests.factories import ClientFactory, LeadFactory, MessageTemplateFactory, ScheduledTouchFactory

pytestmark = pytest.mark.django_db

MAILGUN_SIGNING_KEY = "mailgun-webhook-signing-key"
RESEND_SIGNING_SECRET = "whsec_" + "dHJhY2tpbmctc2VjcmV0LWZvci10ZXN0cw=="  # base64 of a test secret
RESEND_INBOUND_SECRET = "whsec_" + "aW5ib3VuZC1zZWNyZXQtZm9yLXRlc3Rz"

# Wednesday 4 March 2026, 10:30 in Sydney: inside the lead's contact hours.
SENT_AT = datetime(2026, 3, 4, 10, 30, tzinfo=ZoneInfo("Australia/Sydney"))

Payload = Callable[[str, str], Any]  # (provider message id, lead email) -> the ESP's body


@dataclass
class Esp:
    name: str
    backend: str
    settings: dict[str, str]
    send_response: Callable[[str], requests.Response]  # lead email -> the ESP's answer to the send
    events: dict[str, Payload] = field(default_factory=dict)


# --- Postmark (anymail tests/test_postmark_webhooks.py, test_postmark_inbound.py) ---------------------------------


def postmark_bounce(kind: str, *, inactive: bool, record: str = "Bounce") -> Payload:
    def payload(message_id: str, email: str) -> dict[str, Any]:
        return {
            "RecordType": record,
            "ID": 901542550,
            "Type": kind,
            "TypeCode": 1,
            "Name": kind,
            "Tag": "Test",
            "MessageID": message_id,
            "ServerID": 23,
            "Description": "The server was unable to deliver your message (ex: unknown user, mailbox not found).",
            "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
            "Email": email,
            "From": "sender@example.com",
            "BouncedAt": "2016-04-27T16:28:50.3963933-04:00",
            "DumpAvailable": True,
            "Inactive": inactive,
            "CanActivate": True,
            "Subject": "Postmark event test",
            "MessageStream": "outbound",
            "Metadata": {},
        }

    return payload


def postmark_record(record: str, **fields: Any) -> Payload:
    def payload(message_id: str, email: str) -> dict[str, Any]:
        return {
            "RecordType": record,
            "MessageID": message_id,
            "Recipient": email,
            "ServerID": 23,
            "MessageStream": "outbound",
            "Tag": "welcome-email",
            "Metadata": {},
            **fields,
        }

    return payload


POSTMARK = Esp(
    name="postmark",
    backend="anymail.backends.postmark.EmailBackend",
    settings={"POSTMARK_SERVER_TOKEN": "test-server-token"},
    send_response=lambda email: http_response(
        200,
        {
            "To": email,
            "SubmittedAt": "2016-03-12T15:27:50.4468803-05:00",
            "MessageID": str(uuid.uuid4()),
            "ErrorCode": 0,
            "Message": "OK",
        },
    ),
    events={
        "delivered": postmark_record(
            "Delivery", DeliveredAt="2014-08-01T13:28:10.2735393-04:00", Details="Test delivery webhook details"
        ),
        "deferred": postmark_bounce("Transient", inactive=False),
        "soft_bounce": postmark_bounce("SoftBounce", inactive=False),
        "hard_bounce": postmark_bounce("HardBounce", inactive=True),
        # Postmark's suppression: the address deactivated, every later email refused.
        "suppressed": postmark_bounce("ManuallyDeactivated", inactive=True),
        "complained": postmark_bounce("SpamComplaint", inactive=True, record="SpamComplaint"),
        "unsubscribed": postmark_record(
            "SubscriptionChange",
            ChangedAt="2020-02-01T10:53:34.416071Z",
            Origin="Recipient",
            SuppressSending=True,
            SuppressionReason="ManualSuppression",
        ),
        "opened": postmark_record(
            "Open",
            FirstOpen=True,
            ReceivedAt="2016-04-27T16:21:41.2493688-04:00",
            UserAgent="Mozilla/5.0 (Windows NT 5.1) AppleWebKit/537.36",
            Platform="WebMail",
        ),
        "clicked": postmark_record(
            "Click",
            ClickLocation="HTML",
            Platform="Desktop",
            OriginalLink="https://example.com",
            ReceivedAt="2017-10-25T15:21:11.4426517Z",
            UserAgent="Mozilla/5.0 (Macintosh; Intel Mac OS X 10_12_6) AppleWebKit/537.36",
        ),
    },
)


def postmark_inbound(message_id: str, email: str, client_address: str) -> dict[str, Any]:
    return {
        "FromFull": {"Email": email, "Name": "Displayed From", "MailboxHash": ""},
        "From": email,
        "FromName": "Displayed From",
        "ToFull": [{"Email": client_address, "Name": "Test Inbound", "MailboxHash": ""}],
        "To": client_address,
        "CcFull": [],
        "Subject": "Re: Quick question, Priya",
        "MessageID": "22c74902-a0c1-4511-804f2-341342852c90",
        "Date": "Fri, 1 Aug 2014 16:45:32 -04:00",
        "TextBody": "Sounds good, Tuesday works.\n\nOn Thu, Sam wrote:\n> Hi Priya",
        "HtmlBody": "<div>Sounds good, Tuesday works.</div>",
        "StrippedTextReply": "Sounds good, Tuesday works.",
        "MailboxHash": "",
        "Tag": "",
        "Headers": [
            {"Name": "Message-ID", "Value": "<CAEPk3R+4Zr@mail.example.org>"},
            # Postmark's Message-ID for a sent email is its MessageID at mtasv.net.
            {"Name": "In-Reply-To", "Value": f"<{message_id}@mtasv.net>"},
        ],
        "Attachments": [],
    }


# --- Mailgun (anymail tests/test_mailgun_webhooks.py, test_mailgun_inbound.py) ------------------------------------


def mailgun_signature(timestamp: str, token: str) -> str:
    return hmac.new(MAILGUN_SIGNING_KEY.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()


def mailgun_event(event: str, **fields: Any) -> Payload:
    def payload(message_id: str, email: str) -> dict[str, Any]:
        timestamp, token = "1534108637", uuid.uuid4().hex + "abcdef0123456789ab"
        return {
            "signature": {"timestamp": timestamp, "token": token, "signature": mailgun_signature(timestamp, token)},
            "event-data": {
                "event": event,
                "timestamp": 1534108637.153125,
                "id": "hTWCTD81RtiDN-...",
                "recipient": email,
                "tags": [],
                "user-variables": {},
                "log-level": "info",
                "message": {
                    # Mailgun's webhooks give the Message-ID without its brackets; its send API with them.
                    "headers": {
                        "to": email,
                        "message-id": message_id.strip("<>"),
                        "from": "test@example.org",
                        "subject": "Testing",
                    },
                },
                **fields,
            },
        }

    return payload


def mailgun_failed(severity: str, reason: str, code: int, message: str) -> Payload:
    status = {"attempt-no": 1, "description": "", "code": code, "message": message}
    return mailgun_event("failed", severity=severity, reason=reason, **{"delivery-status": status})


MAILGUN = Esp(
    name="mailgun",
    backend="anymail.backends.mailgun.EmailBackend",
    settings={"MAILGUN_API_KEY": "test-api-key", "MAILGUN_WEBHOOK_SIGNING_KEY": MAILGUN_SIGNING_KEY},
    send_response=lambda email: http_response(
        200,
        {
            "id": f"<20180812211713.{uuid.uuid4().hex[:12]}@example.org>",
            "message": "Queued. Thank you.",
        },
    ),
    events={
        "delivered": mailgun_event("delivered", **{"delivery-status": {"code": 250, "message": "OK"}}),
        "deferred": mailgun_failed("temporary", "generic", 498, "No MX for nomx.example.com"),
        "soft_bounce": mailgun_failed("temporary", "greylisted", 450, "Recipient address rejected: Greylisted"),
        "hard_bounce": mailgun_failed(
            "permanent", "bounce", 550, "5.1.1 The email account that you tried to reach does not exist."
        ),
        # Mailgun's suppression: the address bounced before, Mailgun does not try it again.
        "suppressed": mailgun_failed(
            "permanent", "suppress-bounce", 605, "Not delivering to previously bounced address"
        ),
        "complained": mailgun_event("complained"),
        "unsubscribed": mailgun_event("unsubscribed", ip="192.168.0.1"),
        "opened": mailgun_event("opened", **{"client-info": {"user-agent": "Mozilla/5.0"}}),
        "clicked": mailgun_event(
            "clicked", url="https://example.com/test", **{"client-info": {"user-agent": "Mozilla/5.0"}}
        ),
    },
)


def mailgun_inbound(message_id: str, email: str, client_address: str) -> dict[str, str]:
    timestamp, token = "1461261330", "06c96bafc3f42a66b9edd546347a2fe18dc23461fe80dc52f0"
    headers = [
        ["X-Mailgun-Sflag", "No"],
        ["X-Mailgun-Sscore", "1.7"],
        ["Mime-Version", "1.0"],
        ["From", f'"Displayed From" <{email}>'],
        ["Date", "Wed, 11 Oct 2017 18:31:04 -0700"],
        ["Message-Id", "<CAEPk3R+4Zr@mail.example.org>"],
        ["In-Reply-To", message_id],
        ["Subject", "Re: Quick question, Priya"],
        ["To", f'"Test Inbound" <{client_address}>'],
        ["Content-Type", 'multipart/mixed; boundary="089e0825ccf874a0bb055b4f7e23"'],
    ]
    return {
        "token": token,
        "timestamp": timestamp,
        "signature": mailgun_signature(timestamp, token),
        "recipient": client_address,
        "sender": email,
        "message-headers": json.dumps(headers),
        "body-plain": "Sounds good, Tuesday works.\n\nOn Wed, Sam wrote:\n> Hi Priya",
        "body-html": "<div>Sounds good, Tuesday works.</div>",
        "stripped-text": "Sounds good, Tuesday works.",
        "stripped-html": "<div>Sounds good, Tuesday works.</div>",
    }


# --- Resend (anymail tests/test_resend_webhooks.py, test_resend_inbound.py) ---------------------------------------


def resend_event(kind: str, **data: Any) -> Payload:
    def payload(message_id: str, email: str) -> dict[str, Any]:
        return {
            "created_at": "2023-10-02T18:11:26.101Z",
            "data": {
                "created_at": "2023-10-02T18:11:25.729Z",
                "email_id": message_id,
                "from": "Sender <from@example.com>",
                "subject": "Sending test",
                "to": [email],
                **data,
            },
            "type": kind,
        }

    return payload


RESEND = Esp(
    name="resend",
    backend="anymail.backends.resend.EmailBackend",
    settings={
        "RESEND_API_KEY": "test-api-key",
        "RESEND_SIGNING_SECRET": RESEND_SIGNING_SECRET,
        "RESEND_INBOUND_SECRET": RESEND_INBOUND_SECRET,
    },
    send_response=lambda email: http_response(200, {"id": str(uuid.uuid4())}),
    events={
        "delivered": resend_event("email.delivered"),
        "deferred": resend_event("email.delivery_delayed"),
        # Resend's bounce `type` (Permanent / Transient) beside anymail's sample message.
        "soft_bounce": resend_event(
            "email.bounced",
            bounce={
                "type": "Transient",
                "message": (
                    "The recipient's email provider sent a bounce message because the recipient's inbox was full."
                ),
            },
        ),
        "hard_bounce": resend_event(
            "email.bounced",
            bounce={
                "type": "Permanent",
                "message": (
                    "The recipient's email provider sent a hard bounce message, but didn't specify the reason for the"
                    " hard bounce. We recommend removing the recipient's email address from your mailing list."
                ),
            },
        ),
        # anymail's reject_reason "blocked": Resend will never send to the address.
        "suppressed": resend_event(
            "email.bounced",
            bounce={
                "message": (
                    "Resend has suppressed sending to this address because it is on the account-level suppression"
                    " list. This does not count toward your bounce rate metric"
                )
            },
        ),
        "complained": resend_event("email.complained"),
        # Resend has no unsubscribe event.
        "opened": resend_event("email.opened"),
        "clicked": resend_event(
            "email.clicked",
            click={
                "ipAddress": "192.168.1.101",
                "link": "https://example.com/test",
                "timestamp": "2023-09-28T17:20:38.990Z",
                "userAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36",
            },
        ),
    },
)


def svix_headers(body: str, secret: str) -> dict[str, str]:
    # Resend's retry of an event carries the event's svix-id again.
    svix_id = "msg_" + hashlib.sha256(body.encode()).hexdigest()[:27]
    timestamp = datetime.now(tz=UTC)
    signature = Webhook(secret).sign(msg_id=svix_id, timestamp=timestamp, data=body)
    return {
        "HTTP_SVIX_ID": svix_id,
        "HTTP_SVIX_TIMESTAMP": str(int(timestamp.timestamp())),
        "HTTP_SVIX_SIGNATURE": signature,
    }


def resend_inbound_notification(email_id: str, email: str, client_address: str) -> dict[str, Any]:
    return {
        "type": "email.received",
        "created_at": "2024-02-22T23:41:12.126Z",
        "data": {
            "email_id": email_id,
            "created_at": "2024-02-22T23:41:11.894719+00:00",
            "from": f"Displayed From <{email}>",
            "to": [client_address],
            "cc": [],
            "bcc": [],
            "subject": "Re: Quick question, Priya",
            "message_id": "<CAEPk3R+4Zr@mail.example.org>",
            "attachments": [],
        },
    }


def resend_received_email(email_id: str, email: str, client_address: str) -> dict[str, Any]:
    """Resend's API answer for a received email, without `raw`: anymail builds the message from its fields."""
    return {
        "id": email_id,
        "from": f"Displayed From <{email}>",
        "to": [client_address],
        "cc": [],
        "bcc": [],
        "reply_to": [],
        "subject": "Re: Quick question, Priya",
        "html": "<div>Sounds good, Tuesday works.</div>",
        "text": "Sounds good, Tuesday works.",
        "headers": {"Message-ID": "<CAEPk3R+4Zr@mail.example.org>", "Date": "Thu, 22 Feb 2024 23:41:11 +0000"},
        "message_id": "<CAEPk3R+4Zr@mail.example.org>",
        "created_at": "2024-02-22T23:41:11.894719+00:00",
        "attachments": [],
    }


# --- SendGrid (anymail tests/test_sendgrid_webhooks.py, test_sendgrid_inbound.py) ---------------------------------


def sendgrid_event(event: str, **fields: Any) -> Payload:
    def payload(message_id: str, email: str) -> list[dict[str, Any]]:
        return [
            {
                "email": email,
                "timestamp": 1461095250,
                "anymail_id": message_id,
                "smtp-id": "<wrfRRvF7Q0GgwUo2CvDmEA@ismtpd0006p1sjc2.sendgrid.net>",
                "sg_event_id": uuid.uuid4().hex,
                "sg_message_id": "wrfRRvF7Q0GgwUo2CvDmEA.filter0425p1mdw1.13037.0",
                "event": event,
                **fields,
            }
        ]

    return payload


SENDGRID = Esp(
    name="sendgrid",
    backend="anymail.backends.sendgrid.EmailBackend",
    settings={"SENDGRID_API_KEY": "test-api-key"},
    send_response=lambda email: http_response(202, ""),  # the message id is anymail's, sent as custom_args
    events={
        "delivered": sendgrid_event("delivered", response="250 2.0.0 OK 1461095248 m143si2210036ioe.159 - gsmtp"),
        "deferred": sendgrid_event(
            "deferred",
            attempt="1",
            response="Email was deferred due to the following reason(s): [IPs were throttled by recipient server]",
        ),
        # SendGrid's block: the receiving server refused the message, not the address.
        "soft_bounce": sendgrid_event(
            "bounce", type="blocked", status="5.7.1", reason="550 5.7.1 Message rejected due to local policy"
        ),
        "hard_bounce": sendgrid_event(
            "bounce",
            type="bounce",
            status="5.1.1",
            reason="550 5.1.1 The email account that you tried to reach does not exist.",
        ),
        # SendGrid's suppression: dropped, the address is on its bounce list.
        "suppressed": sendgrid_event("dropped", reason="Bounced Address"),
        "complained": sendgrid_event("spamreport"),
        "unsubscribed": sendgrid_event("unsubscribe"),
        "opened": sendgrid_event("open", ip="66.102.6.229", useragent="Mozilla/5.0 (Windows NT 5.1; rv:11.0)"),
        "clicked": sendgrid_event(
            "click",
            url="http://www.example.com",
            useragent="Mozilla/5.0 (Macintosh)",
            url_offset={"index": 0, "type": "html"},
        ),
    },
)


def sendgrid_inbound(email: str, client_address: str) -> dict[str, str]:
    headers = (
        "Received: by 10.10.1.71 with HTTP; Wed, 11 Oct 2017 18:31:04 -0700 (PDT)\n"
        f"From: Displayed From <{email}>\n"
        "Date: Wed, 11 Oct 2017 18:31:04 -0700\n"
        "Message-ID: <CAEPk3R+4Zr@mail.example.org>\n"
        "Subject: Re: Quick question, Priya\n"
        f"To: Test Inbound <{client_address}>\n"
        "MIME-Version: 1.0\n"
    )
    return {
        "headers": headers,
        "dkim": "{@example.org : pass}",
        "to": f"Test Inbound <{client_address}>",
        "html": "<div>Sounds good, Tuesday works.</div>",
        "from": f"Displayed From <{email}>",
        "text": "Sounds good, Tuesday works.",
        "sender_ip": "10.10.1.71",
        "envelope": json.dumps({"to": [client_address], "from": email}),
        "attachments": "0",
        "subject": "Re: Quick question, Priya",
        "charsets": json.dumps({"to": "UTF-8", "html": "UTF-8", "subject": "UTF-8", "from": "UTF-8", "text": "UTF-8"}),
        "SPF": "pass",
    }


ESPS = [POSTMARK, MAILGUN, RESEND, SENDGRID]

# What each event does (docs/outcomes.md, docs/journey.md): stored as, flag on the lead, then the statuses of the
# planned touches 2 (email) and 3 (SMS).
EXPECTED = {
    "delivered": ("email_delivered", None, ["planned", "planned"]),
    "opened": ("email_opened", None, ["planned", "planned"]),
    "clicked": ("email_clicked", None, ["planned", "planned"]),
    "deferred": ("email_deferred", None, ["planned", "planned"]),
    "soft_bounce": ("email_deferred", None, ["planned", "planned"]),
    "hard_bounce": ("email_bounced", "has_bounced", ["cancelled", "planned"]),
    "suppressed": ("email_bounced", "has_bounced", ["cancelled", "planned"]),
    "complained": ("email_complained", "is_unsubscribed", ["cancelled", "cancelled"]),
    "unsubscribed": ("opted_out", "is_unsubscribed", ["cancelled", "cancelled"]),
}


@pytest.fixture(autouse=True)
def public_base_url(settings):
    settings.PUBLIC_BASE_URL = "https://outreach.example.com"


def sent_with(esp: Esp, settings, monkeypatch) -> Sequence:
    """Touch 1 of a lead's sequence sent through the ESP's real anymail backend (its HTTP faked), touches 2
    (email) and 3 (SMS) planned."""
    settings.EMAIL_BACKEND = esp.backend
    settings.ANYMAIL = {"WEBHOOK_SECRET": WEBHOOK_SECRET, **esp.settings}
    lead = LeadFactory.create(
        client=ClientFactory.create(name="Blue Gum Physio", sender_name="Sam"), first_name="Priya", status="in_sequence"
    )
    MessageTemplateFactory.create(client=lead.client, channel="email", touch_number=1)
    touch = ScheduledTouchFactory.create(lead=lead, touch_number=1, status="sending", scheduled_at=SENT_AT)
    http = FakeEspHttp([esp.send_response(lead.email)])
    monkeypatch.setattr(requests.Session, "request", http)
    sent = deliver_touch(touch, now=SENT_AT)
    assert isinstance(sent, Activity) and sent.provider_message_id
    assert len(http.calls) == 1  # one real send, through the ESP's API
    planned = [
        ScheduledTouchFactory.create(lead=lead, sequence_id=touch.sequence_id, touch_number=2, channel="email"),
        ScheduledTouchFactory.create(lead=lead, sequence_id=touch.sequence_id, touch_number=3, channel="sms"),
    ]
    return Sequence(lead=lead, sent=sent, planned=planned)


def post_tracking(http, esp: Esp, payload: Any):
    body = json.dumps(payload)
    url = reverse(f"anymail:{esp.name}_tracking_webhook")
    extra = svix_headers(body, RESEND_SIGNING_SECRET) if esp.name == "resend" else {}
    return http.post(url, data=body, content_type="application/json", **basic_auth(), **extra)


CASES = [(esp, kind) for esp in ESPS for kind in EXPECTED if kind in esp.events]


@pytest.mark.parametrize(("esp", "kind"), CASES, ids=[f"{esp.name}-{kind}" for esp, kind in CASES])
def test_each_esps_event_is_stored_and_stops_what_it_must(client, settings, monkeypatch, esp, kind):
    seq = sent_with(esp, settings, monkeypatch)
    payload = esp.events[kind](seq.sent.provider_message_id, seq.lead.email)

    response = post_tracking(client, esp, payload)

    assert response.status_code == 200, response.content
    action, flag, statuses = EXPECTED[kind]
    (row,) = outcome_rows(seq.lead)
    assert (row.action, row.channel, row.provider, row.in_reply_to_id) == (action, "email", esp.name, seq.sent.pk)
    lead = seq.refresh()
    assert {name: getattr(lead, name) for name in ("has_bounced", "is_unsubscribed")} == {
        name: name == flag for name in ("has_bounced", "is_unsubscribed")
    }
    assert seq.statuses() == statuses
    assert post_tracking(client, esp, payload).status_code == 200  # the ESP's retry of the same event
    assert len(outcome_rows(seq.lead)) == 1


@pytest.mark.parametrize("esp", ESPS, ids=[esp.name for esp in ESPS])
def test_a_wrong_signature_or_password_is_refused_and_writes_nothing(client, settings, monkeypatch, esp):
    seq = sent_with(esp, settings, monkeypatch)
    body = json.dumps(esp.events["hard_bounce"](seq.sent.provider_message_id, seq.lead.email))
    url = reverse(f"anymail:{esp.name}_tracking_webhook")
    wrong = basic_auth("hook-user:guess")
    if esp.name == "resend":  # the right password, a signature by another secret
        wrong = {**basic_auth(), **svix_headers(body, "whsec_" + "d3Jvbmctc2VjcmV0LWtleQ==")}
    if esp.name == "mailgun":  # the right password, a signature by another key
        payload = json.loads(body)
        payload["signature"]["signature"] = "0" * 64
        body, wrong = json.dumps(payload), basic_auth()
    assert client.post(url, data=body, content_type="application/json", **wrong).status_code == 400
    assert outcome_rows(seq.lead) == []
    assert not seq.refresh().has_bounced


def post_inbound(http, esp: Esp, seq: Sequence, monkeypatch):
    email, client_address, message_id = seq.lead.email, seq.lead.client.sending_email, seq.sent.provider_message_id
    url = reverse(f"anymail:{esp.name}_inbound_webhook")
    if esp.name == "postmark":
        body = json.dumps(postmark_inbound(message_id, email, client_address))
        return http.post(url, data=body, content_type="application/json", **basic_auth())
    if esp.name == "mailgun":
        return http.post(url, data=mailgun_inbound(message_id, email, client_address), **basic_auth())
    if esp.name == "sendgrid":
        return http.post(url, data=sendgrid_inbound(email, client_address), **basic_auth())
    # Resend posts a notification; anymail fetches the email from Resend's API (faked here).
    email_id = str(uuid.uuid4())
    api = FakeEspHttp([http_response(200, resend_received_email(email_id, email, client_address))])
    monkeypatch.setattr(requests.Session, "request", api)
    body = json.dumps(resend_inbound_notification(email_id, email, client_address))
    response = http.post(
        url, data=body, content_type="application/json", **basic_auth(), **svix_headers(body, RESEND_INBOUND_SECRET)
    )
    assert [call["url"] for call in api.calls] == [f"https://api.resend.com/emails/receiving/{email_id}"]
    return response


@pytest.mark.parametrize("esp", ESPS, ids=[esp.name for esp in ESPS])
def test_each_esps_inbound_reply_is_recorded_as_a_reply(client, settings, monkeypatch, esp):
    seq = sent_with(esp, settings, monkeypatch)

    response = post_inbound(client, esp, seq, monkeypatch)

    assert response.status_code == 200, response.content
    (row,) = outcome_rows(seq.lead)
    assert (row.action, row.provider, row.in_reply_to_id) == ("email_replied", esp.name, seq.sent.pk)
    assert row.metadata["text"].startswith("Sounds good, Tuesday works.")
    assert seq.refresh().status == "replied"
    assert seq.statuses() == ["cancelled", "cancelled"]


def test_a_resend_inbound_notification_signed_with_the_tracking_secret_is_refused(client, settings, monkeypatch):
    """Resend signs each endpoint with its own secret: the inbound URL checks RESEND_INBOUND_SECRET."""
    seq = sent_with(RESEND, settings, monkeypatch)
    body = json.dumps(resend_inbound_notification("e-1", seq.lead.email, seq.lead.client.sending_email))
    url = reverse("anymail:resend_inbound_webhook")
    response = client.post(
        url, data=body, content_type="application/json", **basic_auth(), **svix_headers(body, RESEND_SIGNING_SECRET)
    )
    assert response.status_code == 400
    assert outcome_rows(seq.lead) == []


# Rejections (the ESP sent nothing): stored as what they say of the address, or not at all.
REJECTIONS = [
    (SENDGRID, sendgrid_event("dropped", reason="Invalid"), "email_bounced", ["cancelled", "planned"]),
    (SENDGRID, sendgrid_event("dropped", reason="Unsubscribed Address"), "opted_out", ["cancelled", "cancelled"]),
    (POSTMARK, postmark_bounce("BadEmailAddress", inactive=True), "email_bounced", ["cancelled", "planned"]),
    # An ISP's block of the message, the address still active at Postmark: nothing about the lead.
    (POSTMARK, postmark_bounce("Blocked", inactive=False), None, ["planned", "planned"]),
    (SENDGRID, sendgrid_event("dropped", reason="Spam Content (if spam checker app enabled)"), None, ["planned"] * 2),
]


@pytest.mark.parametrize(
    ("esp", "payload", "action", "statuses"),
    REJECTIONS,
    ids=["sendgrid-invalid", "sendgrid-unsubscribed", "postmark-bad-address", "postmark-isp-block", "sendgrid-spam"],
)
def test_a_rejection_is_stored_as_what_it_says_of_the_address(
    client, settings, monkeypatch, esp, payload, action, statuses
):
    seq = sent_with(esp, settings, monkeypatch)
    response = post_tracking(client, esp, payload(seq.sent.provider_message_id, seq.lead.email))
    assert response.status_code == 200, response.content
    assert [row.action for row in outcome_rows(seq.lead)] == ([action] if action else [])
    assert seq.statuses() == statuses
