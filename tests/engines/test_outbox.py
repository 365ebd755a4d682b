"""deliver_touch: one claimed touch rendered, re-checked against the lead as it is now, sent once and recorded."""

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import requests
from django.core import mail
from django.db import DatabaseError

from engines.exceptions import InvalidTouch, MissingField, ProviderError, SendBlocked, SentNotRecorded
from engines.providers.linkedin import RecordingLinkedInBackend
from engines.providers.sms import TwilioSmsProvider
from engines.services.sending import recording
from engines.services.sending.outbox import deliver_touch
from outreach.models import Activity, Lead, ManualTask
from tests.engines.providers.fakes import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    FakeEspHttp,
    FakeTwilioHttp,
    http_response,
    twilio_message,
)
from tests.factories import ClientFactory, LeadFactory, MessageTemplateFactory, ScheduledTouchFactory

pytestmark = pytest.mark.django_db

# Wednesday 4 March 2026, 10:30 in Sydney: inside contact hours.
NOW = datetime(2026, 3, 4, 10, 30, tzinfo=ZoneInfo("Australia/Sydney"))


@pytest.fixture(autouse=True)
def anymail_test_backend(settings):
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    settings.PUBLIC_BASE_URL = "https://outreach.example.com"
    mail.outbox = []


@pytest.fixture
def twilio():
    http = FakeTwilioHttp()
    return http, TwilioSmsProvider(ACCOUNT_SID, AUTH_TOKEN, http_client=http)


def claimed(channel="email", touch_number=1, subject="Quick question, {first_name}", body=None, **lead_fields):
    """A touch claimed by the dispatcher (status `sending`), with the client's template for its slot."""
    lead = LeadFactory(
        client=ClientFactory(name="Blue Gum Physio", sender_name="Sam"),
        **{"first_name": "Priya", "company_name": "Harbour Dental", **lead_fields},
    )
    MessageTemplateFactory(
        client=lead.client,
        channel=channel,
        touch_number=touch_number,
        subject=subject,
        body=body or "Hi {first_name}, {company_name} looks busy. Worth 15 minutes? {sender_name}",
    )
    return ScheduledTouchFactory(
        lead=lead, channel=channel, touch_number=touch_number, status="sending", scheduled_at=NOW
    )


def reload(touch):
    touch.refresh_from_db()
    return touch


def test_an_email_touch_is_rendered_sent_once_and_recorded_with_its_touch():
    touch = claimed(touch_number=2)

    activity = deliver_touch(touch, now=NOW)

    [message] = mail.outbox
    assert message.to == [touch.lead.email]
    assert message.subject == "Quick question, Priya"
    assert message.body.startswith("Hi Priya, Harbour Dental looks busy. Worth 15 minutes? Sam")
    assert message.anymail_test_params["metadata"]["touch_id"] == str(touch.pk)
    assert (reload(touch).status, touch.activity_id) == ("sent", activity.pk)
    activity.refresh_from_db()
    assert (activity.action, activity.touch_number, activity.sequence_id) == ("email_sent", 2, touch.sequence_id)
    assert activity.content_snapshot["template_id"] == str(touch.client.message_templates.get().pk)
    assert activity.provider_message_id == str(message.anymail_status.message_id)


def test_an_sms_touch_goes_through_twilio(twilio):
    http, provider = twilio
    http.responses.append(twilio_message(sid="SM" + "3" * 32))
    touch = claimed(channel="sms", subject="", body="Hi {first_name|there}, quick call? Reply STOP to opt out")

    activity = deliver_touch(touch, now=NOW, sms_provider=provider)

    [request] = http.requests
    assert request["data"]["Body"] == "Hi Priya, quick call? Reply STOP to opt out"
    assert (reload(touch).status, touch.activity_id) == ("sent", activity.pk)
    assert activity.provider_message_id == "SM" + "3" * 32


@pytest.mark.parametrize("status", ["planned", "waiting", "blocked", "cancelled", "review"])
def test_only_a_claimed_touch_is_delivered(status):
    touch = claimed()
    type(touch).objects.filter(pk=touch.pk).update(status=status)
    touch.refresh_from_db()

    with pytest.raises(InvalidTouch):
        deliver_touch(touch, now=NOW)
    assert mail.outbox == []


@pytest.mark.parametrize(
    "change, reason",
    [
        ({"status": "replied"}, "lead_replied"),
        ({"status": "converted"}, "meeting_booked"),
        ({"status": "closed"}, "lead_closed"),
        ({"do_not_contact": True}, "do_not_contact"),
        ({"is_unsubscribed": True}, "unsubscribed"),
        ({"email_opted_out": True}, "email_opted_out"),
        ({"has_bounced": True}, "bounced"),
    ],
)
def test_the_lead_is_checked_as_the_database_has_it_at_send_time(change, reason):
    touch = claimed()
    Lead.objects.filter(pk=touch.lead_id).update(**change)  # since the touch (and its lead) were loaded

    with pytest.raises(SendBlocked) as raised:
        deliver_touch(touch, now=NOW)

    assert raised.value.reason == reason
    assert mail.outbox == []
    assert not Activity.objects.exists()
    assert reload(touch).status == "sending"  # the dispatcher records the outcome


def test_a_placeholder_without_data_blocks_the_touch_with_the_fields_name():
    touch = claimed(first_name="")

    with pytest.raises(MissingField) as raised:
        deliver_touch(touch, now=NOW)

    assert raised.value.reason == "missing_field:first_name"
    assert mail.outbox == []


def test_a_touch_without_a_template_is_not_sent():
    touch = claimed()
    touch.client.message_templates.update(active=False)

    with pytest.raises(SendBlocked) as raised:
        deliver_touch(touch, now=NOW)

    assert raised.value.reason == "no_template"
    assert mail.outbox == []


def test_a_touch_whose_lead_belongs_to_another_client_is_not_sent():
    touch = claimed()
    Lead.objects.filter(pk=touch.lead_id).update(client=ClientFactory())

    with pytest.raises(SendBlocked) as raised:
        deliver_touch(touch, now=NOW)

    assert raised.value.reason == "lead_of_another_client"
    assert mail.outbox == []


def test_a_provider_failure_records_nothing_and_leaves_the_touch_to_the_dispatcher(settings, monkeypatch):
    settings.EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
    settings.ANYMAIL = {"POSTMARK_SERVER_TOKEN": "test-server-token"}
    monkeypatch.setattr(requests.Session, "request", FakeEspHttp([http_response(503, {"ErrorCode": 503})]))
    touch = claimed()

    with pytest.raises(ProviderError) as raised:
        deliver_touch(touch, now=NOW)

    assert raised.value.retryable
    assert not Activity.objects.exists()
    assert reload(touch).status == "sending"


def test_accepted_then_not_recorded_keeps_the_touch_findable_for_a_person(monkeypatch, caplog):
    touch = claimed()

    def create(rows, *args, **kwargs):
        raise DatabaseError("connection lost")

    monkeypatch.setattr(recording, "insert_objects", create)

    with caplog.at_level(logging.ERROR):
        with pytest.raises(SentNotRecorded) as raised:
            deliver_touch(touch, now=NOW)

    [message] = mail.outbox
    message_id = str(message.anymail_status.message_id)
    assert raised.value.provider_message_id == message_id
    assert raised.value.touch_id == touch.pk
    touch = reload(touch)
    assert (touch.status, touch.reason) == ("review", "sent_not_recorded")
    assert message_id in touch.last_error
    assert any(message_id in record.getMessage() for record in caplog.records if record.levelno == logging.ERROR)


def test_a_linkedin_touch_with_the_manual_backend_waits_for_a_person():
    touch = claimed(channel="linkedin", subject="", body="Hi {first_name}, happy to share what worked.")

    task = deliver_touch(touch, now=NOW)

    assert isinstance(task, ManualTask)
    assert (task.kind, task.status, task.message, task.subject) == (
        "linkedin",
        "open",
        "Hi Priya, happy to share what worked.",
        "",
    )
    assert (task.scheduled_touch_id, task.due_at) == (touch.pk, NOW)
    assert reload(touch).status == "waiting"
    assert not Activity.objects.exists()


def test_a_linkedin_template_with_a_subject_is_a_connection_request_sent_by_an_automation_backend(settings):
    settings.LINKEDIN_BACKEND = "engines.providers.linkedin.RecordingLinkedInBackend"
    RecordingLinkedInBackend.outbox.clear()
    touch = claimed(channel="linkedin", subject="{first_name}, fellow physio here", body="Thanks for connecting!")

    activity = deliver_touch(touch, now=NOW)

    [sent] = RecordingLinkedInBackend.outbox
    assert (sent["message_type"], sent["connection_note"]) == ("connection_request", "Priya, fellow physio here")
    assert (reload(touch).status, touch.activity_id) == ("sent", activity.pk)
    assert activity.provider_message_id == sent["message_id"]


def test_a_call_touch_opens_a_call_task_with_the_script():
    touch = claimed(channel="voice", subject="", body="Ask {first_name} about {company_name}'s front desk.")

    task = deliver_touch(touch, now=NOW)

    assert (task.kind, task.message) == ("call", "Ask Priya about Harbour Dental's front desk.")
    assert reload(touch).status == "waiting"
    assert not Activity.objects.exists()


@pytest.mark.parametrize(
    "change, reason",
    [({"voice_opted_out": True}, "voice_opted_out"), ({"phone_unusable": True}, "phone_unusable")],
)
def test_a_call_is_not_placed_for_a_lead_who_may_not_be_called(change, reason):
    touch = claimed(channel="voice", subject="", body="Script")
    Lead.objects.filter(pk=touch.lead_id).update(**change)

    with pytest.raises(SendBlocked) as raised:
        deliver_touch(touch, now=NOW)

    assert raised.value.reason == reason
    assert not ManualTask.objects.exists()
    assert reload(touch).status == "sending"
