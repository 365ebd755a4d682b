"""The one send path shared by the four engines: what it refuses before any provider is called, and what
happens when the provider accepted and the record then fails."""

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.db import DatabaseError

from engines.exceptions import InvalidTouch, SendBlocked, SentNotRecorded
from engines.providers.linkedin import RecordingLinkedInBackend
from engines.providers.sms import TwilioSmsProvider
from engines.services.sending import recording
from engines.services.sending.email import send_email
from engines.services.sending.linkedin import send_linkedin
from engines.services.sending.linkedin_messages import CONNECTION_NOTE_LIMIT, INMAIL_LIMIT, MESSAGE_LIMIT
from engines.services.sending.send_path import EMAIL_LINE_LIMIT, EMAIL_SUBJECT_LIMIT
from engines.services.sending.sms import send_sms
from engines.services.sending.voice import complete_call
from outreach.models import Activity, Lead
from tests.engines.providers.fakes import ACCOUNT_SID, AUTH_TOKEN, FakeTwilioHttp, twilio_message
from tests.factories import ClientFactory, LeadFactory, ScheduledTouchFactory

pytestmark = pytest.mark.django_db

# Wednesday 4 March 2026, 10:30 in Sydney: inside contact hours.
NOW = datetime(2026, 3, 4, 10, 30, tzinfo=ZoneInfo("Australia/Sydney"))
NUL = "Hi\x00there"
SURROGATE = "Hi \ud800 there"


@pytest.fixture
def outboxes(settings):
    """Every provider of the four channels, real where one exists, with what each was asked to send."""
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    settings.LINKEDIN_BACKEND = "engines.providers.linkedin.RecordingLinkedInBackend"
    mail.outbox = []
    RecordingLinkedInBackend.outbox.clear()
    http = FakeTwilioHttp()
    return {"email": mail.outbox, "linkedin": RecordingLinkedInBackend.outbox, "sms": http.requests, "http": http}


def twilio(outboxes):
    return TwilioSmsProvider(ACCOUNT_SID, AUTH_TOKEN, http_client=outboxes["http"])


def send(channel, lead, client, outboxes, **texts):
    """One touch on `channel` with the given texts (anything not given is a valid default)."""
    if channel == "email":
        return send_email(lead, client, texts.get("subject", "Hello"), texts.get("body", "Hi there"), now=NOW)
    if channel == "sms":
        return send_sms(lead, client, texts.get("body", "Hi there"), now=NOW, provider=twilio(outboxes))
    if channel == "linkedin":
        return send_linkedin(
            lead,
            client,
            texts.get("body", "Hi there"),
            message_type=texts.get("message_type", "message"),
            connection_note=texts.get("note"),
            now=NOW,
        )
    return complete_call(lead, client, script_content=texts.get("body"), notes=texts.get("notes"), now=NOW)


def assert_nothing_sent(outboxes, lead):
    assert outboxes["email"] == [] and outboxes["sms"] == [] and outboxes["linkedin"] == []
    assert not Activity.objects.exists()
    assert Lead.objects.get(pk=lead.pk).touch_count == 0


@pytest.mark.parametrize("bad", [NUL, SURROGATE], ids=["nul", "lone-surrogate"])
@pytest.mark.parametrize(
    "channel, part",
    [
        ("email", "subject"),
        ("email", "body"),
        ("sms", "body"),
        ("linkedin", "body"),
        ("linkedin", "note"),
        ("voice", "body"),
        ("voice", "notes"),
    ],
)
def test_text_the_database_cannot_store_is_refused_before_the_provider(outboxes, channel, part, bad):
    lead = LeadFactory()
    texts = {part: bad}
    if part == "note":
        texts["message_type"] = "connection_request"

    with pytest.raises(InvalidTouch):
        send(channel, lead, lead.client, outboxes, **texts)

    assert_nothing_sent(outboxes, lead)


@pytest.mark.parametrize(
    "channel, texts",
    [
        ("email", {"subject": "x" * (EMAIL_SUBJECT_LIMIT + 1)}),
        ("email", {"subject": "Hello\r\nBcc: everyone@example.com"}),
        ("email", {"body": "short line\n" + "x" * (EMAIL_LINE_LIMIT + 1)}),
        ("email", {"body": "é" * 500}),  # 1,000 octets in UTF-8: RFC 5322 counts octets
        ("sms", {"body": "x" * 1601}),
        ("linkedin", {"body": "x" * (MESSAGE_LIMIT + 1)}),
        ("linkedin", {"body": "x" * (INMAIL_LIMIT + 1), "message_type": "inmail"}),
        ("linkedin", {"note": "x" * (CONNECTION_NOTE_LIMIT + 1), "message_type": "connection_request"}),
    ],
    ids=["subject", "subject-newline", "line", "line-octets", "sms", "linkedin", "inmail", "note"],
)
def test_text_over_the_channels_limit_is_refused_before_the_provider(outboxes, channel, texts):
    lead = LeadFactory()

    with pytest.raises(InvalidTouch):
        send(channel, lead, lead.client, outboxes, **texts)

    assert_nothing_sent(outboxes, lead)


@pytest.mark.parametrize(
    "channel, texts",
    [
        ("email", {"subject": "x" * EMAIL_SUBJECT_LIMIT, "body": "x" * EMAIL_LINE_LIMIT + "\n" + "y" * 10}),
        ("sms", {"body": "x" * 1600}),
        ("linkedin", {"body": "x" * MESSAGE_LIMIT}),
        ("linkedin", {"body": "x" * INMAIL_LIMIT, "message_type": "inmail"}),
    ],
)
def test_text_at_the_limit_is_sent(outboxes, channel, texts):
    outboxes["http"].responses.append(twilio_message())
    lead = LeadFactory()

    activity = send(channel, lead, lead.client, outboxes, **texts)

    assert len(outboxes[channel]) == 1
    assert activity.pk is not None


@pytest.mark.parametrize(
    "address",
    [
        "a@x.example, b@y.example",
        "a@x.example;b@y.example",
        "a@x.example b@y.example",
        "Pat <pat@x.example>",
        "pat@x.example\r\nBcc: c@z.example",
        "pat@@x.example",
        "pat@x",
    ],
)
def test_an_email_goes_to_exactly_one_valid_address(outboxes, address):
    lead = LeadFactory()
    Lead.objects.filter(pk=lead.pk).update(email=address)  # the ORM runs no field validators
    lead.refresh_from_db()

    with pytest.raises(SendBlocked) as raised:
        send_email(lead, lead.client, "Hello", "Hi there", now=NOW)

    assert raised.value.reason == "invalid_email"
    assert_nothing_sent(outboxes, lead)


def test_a_client_whose_sending_address_is_not_one_address_sends_nothing(outboxes):
    lead = LeadFactory(client=ClientFactory(sending_email="a@x.example, b@y.example"))

    with pytest.raises(SendBlocked) as raised:
        send_email(lead, lead.client, "Hello", "Hi there", now=NOW)

    assert raised.value.reason == "no_sender_email"
    assert_nothing_sent(outboxes, lead)


@pytest.mark.parametrize(
    "url",
    [
        "https://www.linkedin.com/in/a, https://www.linkedin.com/in/b",
        "https://evil.example/in/pat",
        "https://linkedin.com.evil.example/in/pat",
        "not a url",
    ],
)
def test_a_linkedin_touch_goes_to_one_linkedin_profile(outboxes, url):
    lead = LeadFactory(linkedin_url=url)

    with pytest.raises(SendBlocked) as raised:
        send_linkedin(lead, lead.client, "Hi there", now=NOW)

    assert raised.value.reason == "invalid_linkedin_url"
    assert_nothing_sent(outboxes, lead)


@pytest.mark.parametrize("channel", ["email", "sms", "linkedin", "voice"])
def test_a_lead_is_only_contacted_for_its_own_client(outboxes, channel):
    lead = LeadFactory()
    other_client = ClientFactory()

    with pytest.raises(SendBlocked) as raised:
        send(channel, lead, other_client, outboxes)

    assert raised.value.reason == "lead_of_another_client"
    assert_nothing_sent(outboxes, lead)


def test_a_lead_moved_to_another_client_since_it_was_loaded_is_not_contacted_for_the_old_one(outboxes):
    lead = LeadFactory()
    Lead.objects.filter(pk=lead.pk).update(client=ClientFactory())

    with pytest.raises(SendBlocked) as raised:
        send_email(lead, lead.client, "Hello", "Hi there", now=NOW)

    assert raised.value.reason == "lead_of_another_client"
    assert outboxes["email"] == []


def refuse_to_record(monkeypatch):
    def create(rows, *args, **kwargs):
        raise DatabaseError('invalid byte sequence for encoding "UTF8"')

    monkeypatch.setattr(recording, "insert_objects", create)


@pytest.mark.parametrize("channel", ["email", "sms", "linkedin"])
def test_a_send_the_provider_accepted_but_the_database_did_not_is_sent_not_recorded(
    outboxes, monkeypatch, caplog, channel
):
    outboxes["http"].responses.append(twilio_message(sid="SM" + "7" * 32))
    lead = LeadFactory()
    refuse_to_record(monkeypatch)

    with caplog.at_level(logging.ERROR, logger="engines.services.sending.send_path"):
        with pytest.raises(SentNotRecorded, match="sent, not recorded") as raised:
            send(channel, lead, lead.client, outboxes)

    [sent] = outboxes[channel]
    if channel == "email":
        message_id = str(sent.anymail_status.message_id)
    elif channel == "sms":
        message_id = "SM" + "7" * 32
    else:
        message_id = sent["message_id"]
    assert raised.value.provider_message_id == message_id and message_id
    assert raised.value.channel == channel
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert message_id in record.getMessage() and "sent, not recorded" in record.getMessage()
    assert not Activity.objects.exists()
    assert Lead.objects.get(pk=lead.pk).touch_count == 0


def test_with_a_touch_the_activity_and_the_sent_touch_commit_together(outboxes):
    touch = ScheduledTouchFactory(channel="email", status="sending", touch_number=2)

    activity = send_email(touch.lead, touch.client, "Hello", "Hi there", now=NOW, touch=touch)

    touch.refresh_from_db()
    assert (touch.status, touch.activity_id) == ("sent", activity.pk)
    assert (activity.touch_number, activity.sequence_id) == (2, touch.sequence_id)
    [message] = outboxes["email"]
    assert message.anymail_test_params["metadata"]["touch_id"] == str(touch.pk)


def test_when_the_touch_cannot_be_marked_sent_the_activity_is_rolled_back_too(outboxes, monkeypatch):
    touch = ScheduledTouchFactory(channel="email", status="sending")
    insert = recording.insert_objects

    def create_then_lose_the_touch(rows):
        insert(rows)
        type(touch).objects.filter(pk=touch.pk).update(status="failed")  # e.g. a reconciler, meanwhile

    monkeypatch.setattr(recording, "insert_objects", create_then_lose_the_touch)

    with pytest.raises(SentNotRecorded):
        send_email(touch.lead, touch.client, "Hello", "Hi there", now=NOW, touch=touch)

    assert not Activity.objects.exists()
    assert Lead.objects.get(pk=touch.lead_id).touch_count == 0


def test_a_touch_of_another_lead_is_refused(outboxes):
    touch = ScheduledTouchFactory(channel="email", status="sending")
    lead = LeadFactory(client=touch.client)

    with pytest.raises(InvalidTouch):
        send_email(lead, lead.client, "Hello", "Hi there", now=NOW, touch=touch)
    assert_nothing_sent(outboxes, lead)


@pytest.mark.parametrize("phone", ["+61412345678,+6141", "+61412345678;+6141", "+61412345678 +6141"])
def test_an_sms_goes_to_exactly_one_valid_number(outboxes, phone):
    lead = LeadFactory()
    Lead.objects.filter(pk=lead.pk).update(phone=phone)
    lead.refresh_from_db()

    with pytest.raises(SendBlocked) as raised:
        send_sms(lead, lead.client, "Hello", now=NOW, provider=twilio(outboxes))

    assert raised.value.reason == "no_phone"
    assert_nothing_sent(outboxes, lead)


def test_a_line_break_in_the_clients_name_does_not_reach_the_from_header(outboxes):
    lead = LeadFactory(client=ClientFactory(name="Blue Gum\r\nBcc: everyone@example.com"))

    send_email(lead, lead.client, "Hello", "Hi there", now=NOW)

    [message] = outboxes["email"]
    assert message.from_email == f'"Blue Gum Bcc: everyone@example.com" <{lead.client.sending_email}>'
