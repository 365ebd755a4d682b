import smtplib
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import requests
from django.core import mail
from django.core.mail.backends.smtp import EmailBackend as SmtpBackend
from django.db import DatabaseError

from engines.exceptions import InvalidTouch, ProviderError, SendBlocked, SentNotRecorded
from engines.services.sending import recording
from engines.services.sending.email import send_email
from engines.services.sending.unsubscribe import lead_id_from_token
from outreach.models import Activity, Lead
from tests.engines.providers.fakes import http_response
from tests.factories import ClientFactory, LeadFactory

pytestmark = pytest.mark.django_db

SYDNEY = ZoneInfo("Australia/Sydney")
# Wednesday 4 March 2026, 10:30 in Sydney (23:30 UTC the day before).
NOW = datetime(2026, 3, 4, 10, 30, tzinfo=SYDNEY)
BODY = (
    "Hi {first}, I noticed {company} is hiring. Most practices lose qualified leads to slow follow-up. "
    "Worth 15 minutes?"
)


@pytest.fixture
def anymail_test_backend(settings):
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    mail.outbox = []
    return settings


def body_for(lead):
    return BODY.format(first=lead.first_name, company=lead.company_name)


def assert_untouched(lead):
    lead = Lead.objects.get(pk=lead.pk)
    assert (lead.touch_count, lead.last_contacted_at, lead.status) == (0, None, "new")


def test_sends_through_anymail_and_records_the_touch(anymail_test_backend):
    lead = LeadFactory(first_name="Priya", company_name="Harbour Dental")
    sequence_id = uuid.uuid4()

    activity = send_email(
        lead,
        lead.client,
        "Quick question, Priya",
        body_for(lead),
        template_id=7,
        touch_number=2,
        sequence_id=sequence_id,
        now=NOW,
    )

    [message] = mail.outbox
    assert message.to == [lead.email]
    assert message.from_email == f"{lead.client.name} <{lead.client.sending_email}>"
    assert message.subject == "Quick question, Priya"
    assert message.body.startswith(body_for(lead))
    params = message.anymail_test_params
    assert params["tags"] == [f"client-{lead.client.pk}"]
    assert params["metadata"] == {
        "client_id": str(lead.client.pk),
        "lead_id": str(lead.pk),
        "touch_number": "2",
        "sequence_id": str(sequence_id),
    }

    activity.refresh_from_db()
    assert (activity.action, activity.channel, activity.touch_number, activity.sequence_id) == (
        "email_sent",
        "email",
        2,
        sequence_id,
    )
    assert activity.provider_message_id == str(message.anymail_status.message_id)
    assert activity.metadata["provider_message_id"] == activity.provider_message_id
    assert activity.metadata["template_id"] == "7"
    snapshot = activity.content_snapshot
    assert snapshot["subject"] == "Quick question, Priya"
    assert snapshot["subject_word_count"] == 3
    assert snapshot["body"] == body_for(lead)
    assert snapshot["template_id"] == "7"
    assert snapshot["pain_points_used"] == ["leads"]  # "hiring" is not the keyword "hire"
    assert snapshot["cta_used"] == "worth 15 minutes"
    assert snapshot["has_first_name"] and snapshot["has_company_mention"] and snapshot["has_recent_news"]
    assert snapshot["sent_at"] == "2026-03-03T23:30:00+00:00"
    assert (snapshot["day_of_week"], snapshot["hour_of_day"]) == ("Wednesday", 10)

    lead.refresh_from_db()
    assert (lead.touch_count, lead.status, lead.last_contacted_at) == (1, "in_sequence", NOW)


def test_every_email_carries_one_click_unsubscribe_and_the_postal_address(anymail_test_backend, settings):
    settings.PUBLIC_BASE_URL = "https://outreach.example.com"
    lead = LeadFactory(client=ClientFactory(name="Blue Gum Physio", physical_address="1 George St\nSydney NSW 2000"))

    send_email(lead, lead.client, "Hello", "Hi there", now=NOW)

    [message] = mail.outbox
    url = message.extra_headers["List-Unsubscribe"].strip("<>")
    assert url.startswith("https://outreach.example.com/unsubscribe/") and url.endswith("/")
    assert lead_id_from_token(url.rstrip("/").rsplit("/", 1)[1]) == lead.pk
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert url in message.body
    assert "Blue Gum Physio, 1 George St Sydney NSW 2000" in message.body


def test_through_a_real_esp_backend_the_esp_message_id_is_stored(postmark):
    postmark.responses.append(
        http_response(
            200,
            {
                "To": "x@example.com",
                "SubmittedAt": "2026-03-04T10:30:00Z",
                "MessageID": "b7bc2f4a-e38e-4336-af7d-e6c392c2f817",
                "ErrorCode": 0,
                "Message": "OK",
            },
        )
    )
    lead = LeadFactory(email="x@example.com")

    activity = send_email(lead, lead.client, "Hello", "Hi there", touch_number=3, now=NOW)

    assert activity.provider_message_id == "b7bc2f4a-e38e-4336-af7d-e6c392c2f817"
    sent = postmark.sent_json()
    headers = {h["Name"]: h["Value"] for h in sent["Headers"]}
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert sent["Tag"] == f"client-{lead.client.pk}"
    assert sent["Metadata"]["lead_id"] == str(lead.pk) and sent["Metadata"]["touch_number"] == "3"


@pytest.mark.parametrize(
    "fault, retryable",
    [
        (requests.exceptions.ReadTimeout("read timed out"), True),
        (requests.exceptions.ConnectionError("connection refused"), True),
        (http_response(429, {"ErrorCode": 429, "Message": "Rate limit exceeded"}), True),
        (http_response(500, {"ErrorCode": 500, "Message": "Internal server error"}), True),
        (http_response(503, {"ErrorCode": 503, "Message": "Unavailable"}), True),
        (http_response(400, {"ErrorCode": 300, "Message": "Invalid 'From' address"}), False),
        (
            http_response(
                422,
                {
                    "ErrorCode": 406,
                    "Message": "You tried to send to a recipient that has been marked as "
                    "inactive.\nFound inactive addresses: lead@example.com.\nInactive recipients are ones "
                    "that have generated a hard bounce or a spam complaint.",
                },
            ),
            False,
        ),
    ],
    ids=["timeout", "connection", "429", "500", "503", "400", "422-inactive"],
)
def test_provider_faults_record_nothing_and_leave_the_lead_untouched(postmark, fault, retryable):
    postmark.responses.append(fault)
    lead = LeadFactory(email="lead@example.com")

    with pytest.raises(ProviderError) as raised:
        send_email(lead, lead.client, "Hello", "Hi there", now=NOW)

    assert raised.value.retryable is retryable
    assert len(postmark.calls) == 1
    assert not Activity.objects.exists()
    assert_untouched(lead)


@pytest.mark.parametrize(
    "change, reason",
    [
        ({"do_not_contact": True}, "do_not_contact"),
        ({"is_unsubscribed": True}, "unsubscribed"),
        ({"has_bounced": True}, "bounced"),
        ({"email_opted_out": True}, "email_opted_out"),
        ({"email": ""}, "no_email"),
    ],
)
def test_blocked_leads_get_no_email_and_no_record(anymail_test_backend, change, reason):
    lead = LeadFactory(**change)

    with pytest.raises(SendBlocked) as raised:
        send_email(lead, lead.client, "Hello", "Hi there", now=NOW)

    assert raised.value.reason == reason
    assert mail.outbox == []
    assert not Activity.objects.exists()
    assert_untouched(lead)


def test_an_unsubscribe_saved_after_the_lead_was_loaded_still_blocks(anymail_test_backend):
    lead = LeadFactory()
    Lead.objects.filter(pk=lead.pk).update(is_unsubscribed=True)  # e.g. the unsubscribe link, meanwhile

    with pytest.raises(SendBlocked) as raised:
        send_email(lead, lead.client, "Hello", "Hi there", now=NOW)

    assert raised.value.reason == "unsubscribed"
    assert mail.outbox == []


def test_a_flag_set_but_not_saved_blocks_too(anymail_test_backend):
    lead = LeadFactory()
    lead.do_not_contact = True

    with pytest.raises(SendBlocked):
        send_email(lead, lead.client, "Hello", "Hi there", now=NOW)
    assert mail.outbox == []


def test_a_client_without_a_sending_address_sends_nothing(anymail_test_backend):
    lead = LeadFactory(client=ClientFactory(sending_email=""))

    with pytest.raises(SendBlocked) as raised:
        send_email(lead, lead.client, "Hello", "Hi there", now=NOW)

    assert raised.value.reason == "no_sender_email"
    assert mail.outbox == []


@pytest.mark.parametrize(
    "kwargs",
    [{"touch_number": 0}, {"touch_number": "2"}, {"sequence_id": "not-a-uuid"}, {"subject": "  "}, {"body": ""}],
)
def test_values_the_database_would_refuse_are_caught_before_sending(anymail_test_backend, kwargs):
    lead = LeadFactory()
    arguments = {"subject": "Hello", "body": "Hi there", **kwargs}
    subject, body = arguments.pop("subject"), arguments.pop("body")

    with pytest.raises(InvalidTouch):
        send_email(lead, lead.client, subject, body, now=NOW, **arguments)

    assert mail.outbox == []
    assert not Activity.objects.exists()


@pytest.mark.parametrize(
    "subject", ["Hi\r\nBcc: x@example.com", "Hi\x0bthere", "Hi\x0cthere", "Hi\x1cthere", "Hi\u2028"]
)
def test_a_subject_with_a_control_character_is_refused_with_its_code_point_before_sending(
    anymail_test_backend, subject
):
    lead = LeadFactory()
    with pytest.raises(InvalidTouch, match=r"one line of text.*U\+00|one line of text.*U\+2028"):
        send_email(lead, lead.client, subject, "Hi there", now=NOW)
    assert mail.outbox == [] and not Activity.objects.exists()


def test_touch_count_is_incremented_in_the_database(anymail_test_backend):
    lead = LeadFactory()
    first_copy, second_copy = Lead.objects.get(pk=lead.pk), Lead.objects.get(pk=lead.pk)

    send_email(first_copy, lead.client, "One", "First touch", touch_number=1, now=NOW)
    send_email(second_copy, lead.client, "Two", "Second touch", touch_number=2, now=NOW)

    assert Lead.objects.get(pk=lead.pk).touch_count == 2
    assert second_copy.touch_count == 2  # the caller's copy is refreshed


def test_the_activity_is_not_kept_when_the_lead_update_fails(anymail_test_backend, monkeypatch, caplog):
    lead = LeadFactory()

    def lost_connection(*args, **kwargs):
        raise DatabaseError("lost the connection")

    monkeypatch.setattr(recording, "update_from_values", lost_connection)  # the leads' update, after the insert

    # The ESP accepted: the failure to record is "sent, not recorded", with the ESP's message id.
    with pytest.raises(SentNotRecorded) as raised:
        send_email(lead, lead.client, "Hello", "Hi there", now=NOW)

    [message] = mail.outbox
    assert raised.value.provider_message_id == str(message.anymail_status.message_id)
    assert isinstance(raised.value.__cause__, DatabaseError)
    assert not Activity.objects.exists()


@pytest.mark.parametrize(
    "fault, retryable",
    [
        (smtplib.SMTPServerDisconnected("gone"), True),
        (smtplib.SMTPResponseException(451, b"try again later"), True),
        (smtplib.SMTPResponseException(554, b"rejected"), False),
        (smtplib.SMTPRecipientsRefused({"x@example.com": (550, b"no such user")}), False),
    ],
)
def test_a_plain_smtp_backend_fails_the_same_way(settings, monkeypatch, fault, retryable):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"

    def refuse(backend, messages):
        raise fault

    monkeypatch.setattr(SmtpBackend, "send_messages", refuse)
    lead = LeadFactory()

    with pytest.raises(ProviderError) as raised:
        send_email(lead, lead.client, "Hello", "Hi there", now=NOW)

    assert raised.value.retryable is retryable
    assert not Activity.objects.exists()
    assert_untouched(lead)
