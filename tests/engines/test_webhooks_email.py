"""Email outcomes end to end: Postmark's documented webhook payloads through anymail's real URLs and our receivers."""

import base64
import json

import pytest
from anymail.signals import AnymailTrackingEvent, tracking
from django.urls import reverse

from outreach.models import Activity
from tests.engines.webhook_support import (
    WEBHOOK_SECRET,
    basic_auth,
    outcome_rows,
    post_json,
    postmark_inbound,
    postmark_tracking,
    sequence,
)

pytestmark = pytest.mark.django_db

DELIVERED_AT = "2026-11-20T05:33:54.9070259Z"


@pytest.fixture(autouse=True)
def webhook_secret(settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": WEBHOOK_SECRET}


def delivery(message_id: str, at: str = DELIVERED_AT) -> dict:
    return {
        "RecordType": "Delivery",
        "ServerID": 23,
        "MessageStream": "outbound",
        "MessageID": message_id,
        "Recipient": "pat@example.com",
        "Tag": "client-1",
        "DeliveredAt": at,
        "Details": "Test delivery webhook details",
        "Metadata": {"lead_id": "1"},
    }


def opened(message_id: str, at: str = "2026-11-20T06:00:00Z") -> dict:
    return {
        "RecordType": "Open",
        "MessageStream": "outbound",
        "FirstOpen": True,
        "UserAgent": "Mozilla/5.0",
        "MessageID": message_id,
        "Metadata": {},
        "ReceivedAt": at,
        "Tag": "client-1",
        "Recipient": "pat@example.com",
    }


def clicked(message_id: str) -> dict:
    return {
        "RecordType": "Click",
        "MessageStream": "outbound",
        "ClickLocation": "HTML",
        "Platform": "Desktop",
        "UserAgent": "Mozilla/5.0",
        "OriginalLink": "https://client.example.com/offer",
        "MessageID": message_id,
        "ReceivedAt": "2026-11-20T06:05:00Z",
        "Recipient": "pat@example.com",
    }


def bounce(message_id: str, kind: str = "HardBounce", bounce_id: int = 4323372036854775807) -> dict:
    return {
        "RecordType": "Bounce",
        "ID": bounce_id,
        "Type": kind,
        "TypeCode": 1,
        "Name": "Hard bounce",
        "MessageID": message_id,
        "MessageStream": "outbound",
        "Description": "The server was unable to deliver your message (ex: unknown user, mailbox not found).",
        "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
        "Email": "pat@example.com",
        "From": "hello@client.example.com",
        "BouncedAt": "2026-11-20T05:40:00Z",
        "Inactive": True,
        "Subject": "Quick question",
        "Metadata": {},
    }


def complaint(message_id: str) -> dict:
    return {**bounce(message_id, "SpamComplaint", 77), "RecordType": "SpamComplaint"}


def subscription_change(message_id: str) -> dict:
    return {
        "RecordType": "SubscriptionChange",
        "MessageID": message_id,
        "ServerID": 23,
        "MessageStream": "outbound",
        "ChangedAt": "2026-11-20T07:00:00Z",
        "Recipient": "pat@example.com",
        "Origin": "Recipient",
        "SuppressSending": True,
        "SuppressionReason": "ManualSuppression",
        "Tag": "client-1",
        "Metadata": {},
    }


def inbound_email(
    sender: str,
    *,
    to="hello@client.example.com",  # no client's address: only a message id it references can place it
    subject="Re: Quick question",
    text="Sounds good, Tuesday works.",
    headers=(),
):
    return {
        "FromName": "Pat",
        "MessageStream": "inbound",
        "From": sender,
        "FromFull": {"Email": sender, "Name": "Pat", "MailboxHash": ""},
        "To": to,
        "ToFull": [{"Email": to, "Name": "", "MailboxHash": ""}],
        "CcFull": [],
        "BccFull": [],
        "Subject": subject,
        "MessageID": "73e6d360-66eb-11e1-8e72-a8904824019b",
        "Date": "Fri, 20 Nov 2026 16:45:32 +1100",
        "TextBody": text
        + "\n\nOn Thu, 19 Nov 2026 Alex wrote:\n> To stop receiving these emails: https://x/unsubscribe/t/",
        "HtmlBody": "",
        "StrippedTextReply": text,
        "Headers": [{"Name": "Message-ID", "Value": "<reply-1@mail.lead.example.com>"}]
        + [{"Name": name, "Value": value} for name, value in headers],
        "Attachments": [],
    }


def lead_reply(lead, **fields):
    """An email from the lead to its client's sending address, as a lead answering our email writes it."""
    return inbound_email(lead.email, to=lead.client.sending_email, **fields)


@pytest.mark.parametrize(
    ("payload", "action"),
    [(delivery, "email_delivered"), (opened, "email_opened"), (clicked, "email_clicked")],
)
def test_engagement_events_are_recorded_against_the_email_they_answer(client, payload, action):
    seq = sequence()
    response = postmark_tracking(client, payload(seq.sent.provider_message_id))
    assert response.status_code == 200
    (row,) = outcome_rows(seq.lead)
    assert (row.action, row.channel, row.in_reply_to_id, row.provider) == (action, "email", seq.sent.pk, "postmark")
    assert (row.sequence_id, row.touch_number) == (seq.sent.sequence_id, 1)
    assert seq.statuses() == ["planned", "planned"]  # engagement does not end the sequence


def test_a_click_keeps_the_link(client):
    seq = sequence()
    postmark_tracking(client, clicked(seq.sent.provider_message_id))
    assert outcome_rows(seq.lead)[0].metadata["click_url"] == "https://client.example.com/offer"


def test_a_hard_bounce_marks_the_address_and_cancels_only_the_email_touches(client):
    seq = sequence()
    response = postmark_tracking(client, bounce(seq.sent.provider_message_id))
    assert response.status_code == 200
    (row,) = outcome_rows(seq.lead)
    assert row.action == "email_bounced" and row.provider_event_id == "4323372036854775807"
    assert seq.refresh().has_bounced
    assert seq.statuses() == ["cancelled", "planned"]


@pytest.mark.parametrize("kind", ["SoftBounce", "Transient", "DnsError"])
def test_a_soft_bounce_or_deferral_is_recorded_but_does_not_mark_the_address(client, kind):
    seq = sequence()
    assert postmark_tracking(client, bounce(seq.sent.provider_message_id, kind)).status_code == 200
    (row,) = outcome_rows(seq.lead)
    assert row.action == "email_deferred"
    assert not seq.refresh().has_bounced
    assert seq.statuses() == ["planned", "planned"]


def test_a_spam_complaint_unsubscribes_the_lead_from_everything(client):
    seq = sequence()
    assert postmark_tracking(client, complaint(seq.sent.provider_message_id)).status_code == 200
    (row,) = outcome_rows(seq.lead)
    assert row.action == "email_complained"
    assert seq.refresh().is_unsubscribed
    assert seq.statuses() == ["cancelled", "cancelled"]


def test_an_unsubscribe_at_the_esp_unsubscribes_the_lead(client):
    seq = sequence()
    assert postmark_tracking(client, subscription_change(seq.sent.provider_message_id)).status_code == 200
    (row,) = outcome_rows(seq.lead)
    assert (row.action, row.channel) == ("opted_out", "email")
    assert seq.refresh().is_unsubscribed
    assert seq.statuses() == ["cancelled", "cancelled"]


@pytest.mark.parametrize("payload", [delivery, opened, bounce, complaint])
def test_a_replayed_event_answers_200_and_is_stored_once(client, payload):
    seq = sequence()
    body = payload(seq.sent.provider_message_id)
    assert postmark_tracking(client, body).status_code == 200
    assert postmark_tracking(client, body).status_code == 200
    assert len(outcome_rows(seq.lead)) == 1


def test_two_opens_at_different_times_are_two_events(client):
    seq = sequence()
    postmark_tracking(client, opened(seq.sent.provider_message_id, "2026-11-20T06:00:00Z"))
    postmark_tracking(client, opened(seq.sent.provider_message_id, "2026-11-21T09:00:00Z"))
    assert len(outcome_rows(seq.lead, "email_opened")) == 2


def test_delivered_arriving_after_opened_is_recorded_too(client):
    seq = sequence()
    assert postmark_tracking(client, opened(seq.sent.provider_message_id, "2026-11-20T06:00:00Z")).status_code == 200
    assert postmark_tracking(client, delivery(seq.sent.provider_message_id, DELIVERED_AT)).status_code == 200
    rows = outcome_rows(seq.lead)  # by event time: the delivery happened first
    assert [row.action for row in rows] == ["email_delivered", "email_opened"]
    assert seq.refresh().status == "in_sequence"


@pytest.mark.parametrize("secret", ["", "hook-user:wrong-password"])
def test_missing_or_wrong_basic_auth_is_refused_and_writes_nothing(client, secret):
    seq = sequence()
    response = postmark_tracking(client, bounce(seq.sent.provider_message_id), secret=secret)
    assert response.status_code == 400
    assert outcome_rows(seq.lead) == []
    assert not seq.refresh().has_bounced


def test_a_tampered_inbound_request_is_refused(client):
    seq = sequence()
    response = postmark_inbound(client, lead_reply(seq.lead), secret="hook-user:guess")
    assert response.status_code == 400
    assert outcome_rows(seq.lead) == []


@pytest.mark.parametrize("body", ["{not json", "[]", json.dumps({"RecordType": "Delivery"})])
def test_malformed_bodies_answer_400_and_write_nothing(client, body, caplog):
    seq = sequence()
    response = postmark_tracking(client, body)
    assert response.status_code == 400
    assert outcome_rows(seq.lead) == []
    assert "refused" in caplog.text


def test_an_unknown_message_id_answers_404_and_writes_nothing(client, caplog):
    seq = sequence()
    response = postmark_tracking(client, delivery("not-a-message-we-sent"))
    assert response.status_code == 404
    assert Activity.objects.exclude(pk=seq.sent.pk).count() == 0
    assert "unknown message" in caplog.text


def test_an_oversized_body_is_refused_before_it_is_read(client):
    seq = sequence()
    payload = {**delivery(seq.sent.provider_message_id), "Details": "x" * 1_100_000}
    response = postmark_tracking(client, payload)
    assert response.status_code == 413
    assert outcome_rows(seq.lead) == []


def test_ignored_event_types_answer_200(client):
    seq = sequence()
    payload = {**subscription_change(seq.sent.provider_message_id), "SuppressSending": False}  # re-subscribed
    assert postmark_tracking(client, payload).status_code == 200
    assert outcome_rows(seq.lead) == []


def sparkpost_event(transmission_id: str | None, kind: str, event_id: str) -> dict:
    """One event of a SparkPost batch (SparkPost posts many events per request)."""
    event = {"type": kind, "event_id": event_id, "timestamp": "1763620000", "raw_rcpt_to": "pat@example.com"}
    if transmission_id is not None:
        event["transmission_id"] = transmission_id
    return {"msys": {"message_event": event}}


def sparkpost_batch(client, events):
    return post_json(client, reverse("anymail:sparkpost_tracking_webhook"), events, **basic_auth())


def test_a_batch_with_a_malformed_event_writes_nothing_of_the_batch(client):
    seq = sequence()
    good = sparkpost_event(seq.sent.provider_message_id, "delivery", "sp-1")
    without_message = sparkpost_event(None, "delivery", "sp-2")
    assert sparkpost_batch(client, [good, without_message]).status_code == 400
    assert outcome_rows(seq.lead) == []  # the first event was stored, then rolled back with the request


def test_a_batch_records_our_events_and_skips_messages_we_did_not_send(client):
    seq = sequence()
    batch = [
        sparkpost_event(seq.sent.provider_message_id, "delivery", "sp-1"),
        sparkpost_event("someone-elses-message", "delivery", "sp-2"),
        sparkpost_event(seq.sent.provider_message_id, "open", "sp-3"),
    ]
    assert sparkpost_batch(client, batch).status_code == 200
    assert sorted(row.action for row in outcome_rows(seq.lead)) == ["email_delivered", "email_opened"]


# --- Replies ---------------------------------------------------------------------------------------------------


def test_a_reply_is_linked_by_in_reply_to_and_ends_the_sequence(client):
    seq = sequence(message_id="b7bc2f4a-e38e-4336-af7d-e6c392c2f817")
    # Postmark's Message-ID header is its MessageID at its own domain.
    payload = inbound_email(
        "someone.else@lead.example.com",
        headers=[("In-Reply-To", "<b7bc2f4a-e38e-4336-af7d-e6c392c2f817@mtasv.net>")],
    )
    assert postmark_inbound(client, payload).status_code == 200
    (row,) = outcome_rows(seq.lead)
    assert (row.action, row.in_reply_to_id, row.provider) == ("email_replied", seq.sent.pk, "postmark")
    assert row.metadata["text"] == "Sounds good, Tuesday works."
    assert seq.refresh().status == "replied"
    assert seq.statuses() == ["cancelled", "cancelled"]


def test_a_reply_without_references_is_found_by_sender_within_the_client(client):
    seq = sequence()
    other = sequence()  # another lead, another client
    payload = inbound_email(seq.lead.email.upper(), to=seq.lead.client.sending_email.upper())
    assert postmark_inbound(client, payload).status_code == 200
    (row,) = outcome_rows(seq.lead)
    assert row.action == "email_replied" and row.in_reply_to_id == seq.sent.pk
    assert outcome_rows(other.lead) == []


def test_a_replayed_reply_is_stored_once(client):
    seq = sequence()
    postmark_inbound(client, lead_reply(seq.lead))
    assert postmark_inbound(client, lead_reply(seq.lead)).status_code == 200
    assert len(outcome_rows(seq.lead)) == 1


@pytest.mark.parametrize(
    ("subject", "headers"),
    [
        ("Re: Quick question", [("Auto-Submitted", "auto-replied")]),
        ("Re: Quick question", [("X-Autoreply", "yes")]),
        ("Re: Quick question", [("Precedence", "auto_reply")]),
        ("Re: Quick question", [("Precedence", "bulk")]),
        ("Out of Office: back on Monday", []),
        ("Automatic reply: Quick question", []),
    ],
)
def test_an_auto_reply_is_recorded_as_such_and_does_not_end_the_sequence(client, subject, headers):
    seq = sequence()
    payload = lead_reply(seq.lead, subject=subject, text="I am away until Monday.", headers=headers)
    assert postmark_inbound(client, payload).status_code == 200
    (row,) = outcome_rows(seq.lead)
    assert (row.action, row.in_reply_to_id) == ("email_auto_replied", seq.sent.pk)
    assert seq.refresh().status == "in_sequence"
    assert seq.statuses() == ["planned", "planned"]


@pytest.mark.parametrize("text", ["Please unsubscribe me.", "Remove me from your list", "Stop contacting me"])
def test_a_reply_asking_to_stop_unsubscribes_the_lead(client, text):
    seq = sequence()
    assert postmark_inbound(client, lead_reply(seq.lead, text=text)).status_code == 200
    (row,) = outcome_rows(seq.lead)
    assert (row.action, row.metadata["via"]) == ("opted_out", "reply")
    lead = seq.refresh()
    assert lead.is_unsubscribed and lead.status == "closed"  # its enrollment ended: opted out
    assert seq.statuses() == ["cancelled", "cancelled"]


def test_our_own_footer_quoted_in_a_reply_is_not_a_stop_request(client):
    seq = sequence()
    payload = lead_reply(seq.lead, text="Keen, call me")
    payload["StrippedTextReply"] = None  # the ESP did not strip the quote: the quoted footer has "unsubscribe"
    assert postmark_inbound(client, payload).status_code == 200
    assert outcome_rows(seq.lead)[0].action == "email_replied"
    assert not seq.refresh().is_unsubscribed


def test_an_email_from_a_stranger_is_acknowledged_and_ignored(client):
    seq = sequence()
    assert postmark_inbound(client, inbound_email("stranger@nowhere.example.com")).status_code == 200
    assert Activity.objects.exclude(pk=seq.sent.pk).count() == 0


def test_a_reply_to_a_converted_lead_keeps_it_converted(client):
    seq = sequence()
    seq.lead.status = "converted"
    seq.lead.save(update_fields=["status"])
    postmark_inbound(client, lead_reply(seq.lead))
    assert seq.refresh().status == "converted"


def test_a_reply_with_an_attachment_larger_than_djangos_form_limit_is_recorded(client, settings):
    seq = sequence()
    payload = lead_reply(seq.lead)
    content = base64.b64encode(b"%PDF" + b"x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 100_000)).decode()
    payload["Attachments"] = [{"Name": "deck.pdf", "Content": content, "ContentType": "application/pdf"}]
    assert postmark_inbound(client, payload).status_code == 200
    assert outcome_rows(seq.lead)[0].action == "email_replied"


def test_a_tracking_signal_sent_outside_a_webhook_request_is_recorded_at_once():
    seq = sequence()
    event = AnymailTrackingEvent(
        event_type="delivered", message_id=seq.sent.provider_message_id, event_id="direct-1", timestamp=None
    )
    tracking.send(sender=None, event=event, esp_name="Postmark")
    assert [row.action for row in outcome_rows(seq.lead)] == ["email_delivered"]
