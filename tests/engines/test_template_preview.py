"""template_preview: a saved template rendered for one lead through the send path's renderer, each placeholder
reported (filled, fallback used, missing, unknown), and a test email of it that is never a touch."""

import pytest
import requests
from django.core import mail

from engines.exceptions import InvalidTouch, MissingField, ProviderError, SendBlocked
from engines.services.sending import template_preview
from engines.services.sending.rendering import render_text
from engines.services.sending.template_preview import Outcome
from outreach.models import Activity, Lead, MessageTemplate, ScheduledTouch
from tests.engines.providers.fakes import FakeEspHttp, http_response
from tests.factories import ClientFactory, LeadFactory, MailboxFactory, MessageTemplateFactory, ScheduledTouchFactory

pytestmark = pytest.mark.django_db

SUBJECT = "Quick question, {first_name|there}"
BODY = "Hi {first_name}, {company_name|your practice} looks busy. {{not a placeholder}} {sender_name|The team}"


@pytest.fixture(autouse=True)
def anymail_test_backend(settings):
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    settings.PUBLIC_BASE_URL = "https://outreach.example.com"
    mail.outbox = []


@pytest.fixture
def client():
    return ClientFactory(name="Blue Gum Physio", sender_name="Sam", sending_email="hello@bluegum.example.com")


def template_of(client, **fields):
    return MessageTemplateFactory(client=client, **{"subject": SUBJECT, "body": BODY, **fields})


def unchecked_template(client, **fields):
    """A template saved without MessageTemplate.clean(), as one saved before validation existed."""
    return MessageTemplate.objects.create(client=client, channel="email", touch_number=9, **fields)


def test_a_lead_with_every_field_reads_what_the_send_path_renders(client):
    template = template_of(client)
    lead = LeadFactory(client=client, first_name="Priya", company_name="Harbour Dental")

    preview = template_preview.preview(template, lead)

    assert preview.subject.text == render_text(SUBJECT, lead, client) == "Quick question, Priya"
    assert preview.body.text == render_text(BODY, lead, client)
    assert preview.body.text == "Hi Priya, Harbour Dental looks busy. {not a placeholder} Sam"
    for part in preview.parts:
        assert "".join(segment.text for segment in part.segments) == part.text
    assert [use.outcome for use in preview.uses] == [Outcome.FILLED] * 4
    assert preview.flagged == ()
    assert preview.blocked is None
    assert preview.sendable


def test_a_fallback_used_is_flagged_with_the_field_that_was_empty(client):
    template = template_of(client)
    lead = LeadFactory(client=client, first_name="Priya", company_name="N/A")

    preview = template_preview.preview(template, lead)

    assert preview.body.text == "Hi Priya, your practice looks busy. {not a placeholder} Sam"
    [flag] = preview.flagged
    assert (flag.part, flag.written, flag.outcome, flag.value) == (
        "body",
        "{company_name|your practice}",
        Outcome.FALLBACK,
        "your practice",
    )
    assert flag.note == "fallback 'your practice' used (the lead's company is empty)"
    assert preview.sendable


def test_a_missing_field_blocks_the_preview_as_it_would_block_the_send(client):
    template = template_of(client)
    lead = LeadFactory(client=client, first_name="", company_name="")

    preview = template_preview.preview(template, lead)

    assert isinstance(preview.blocked, MissingField)
    assert preview.blocked.reason == "missing_field:first_name"
    assert preview.subject.text == "Quick question, there"
    assert preview.body.text is None
    assert "".join(segment.text for segment in preview.body.segments) == (
        "Hi {first_name}, your practice looks busy. {not a placeholder} Sam"
    )
    flags = {(use.part, use.written): use for use in preview.flagged}
    assert set(flags) == {
        ("subject", "{first_name|there}"),
        ("body", "{first_name}"),
        ("body", "{company_name|your practice}"),
    }
    missing = flags[("body", "{first_name}")]
    assert missing.outcome is Outcome.MISSING
    assert "missing_field:first_name" in missing.note
    assert not preview.sendable


def test_an_unknown_placeholder_of_an_old_template_is_flagged_and_blocks(client):
    template = unchecked_template(client, subject="Hello", body="Hi {frist_name|there}")
    lead = LeadFactory(client=client)

    preview = template_preview.preview(template, lead)

    [flag] = preview.flagged
    assert flag.outcome is Outcome.UNKNOWN
    assert preview.blocked.reason == "unknown_placeholder:frist_name"


def test_an_email_the_send_path_would_refuse_is_reported(client):
    template = unchecked_template(client, subject="Two\nlines", body="Hi {first_name}")

    preview = template_preview.preview(template, LeadFactory(client=client))

    assert preview.blocked is None
    [problem] = preview.problems
    assert "control character U+000A" in problem
    assert not preview.sendable


def test_an_sms_template_is_previewed_without_a_subject(client):
    template = template_of(client, channel="sms", subject="", body="Hi {first_name|there}, {sender_name} here")
    lead = LeadFactory(client=client, first_name="Priya")

    preview = template_preview.preview(template, lead)

    assert preview.subject is None
    assert [part.part for part in preview.parts] == ["body"]
    assert preview.body.text == "Hi Priya, Sam here"


def test_a_lead_of_another_client_is_refused(client):
    template = template_of(client)

    with pytest.raises(SendBlocked) as raised:
        template_preview.preview(template, LeadFactory())

    assert raised.value.reason == "lead_of_another_client"


def test_the_default_lead_is_the_clients_first_by_id(client):
    template = template_of(client)
    LeadFactory()  # another client's, older
    first, second = LeadFactory(client=client), LeadFactory(client=client)

    assert template_preview.default_lead(template) == first
    assert list(template_preview.client_leads(template)) == [first, second]
    assert template_preview.default_lead(template_of(ClientFactory())) is None


def test_a_test_email_is_marked_and_carries_nothing_that_acts_on_the_lead(client):
    template = template_of(client)
    lead = LeadFactory(client=client, first_name="Priya", company_name="Harbour Dental")

    message = template_preview.build_test_email(template_preview.preview(template, lead), "me@agency.example.com")

    assert message.to == ["me@agency.example.com"]
    assert message.subject == "[TEST] Quick question, Priya"
    assert message.extra_headers["X-Outreach-Test"] == "template-preview"
    assert "List-Unsubscribe" not in message.extra_headers
    assert message.from_email == "Blue Gum Physio <hello@bluegum.example.com>"
    assert message.body.startswith("Hi Priya, Harbour Dental looks busy.")
    assert "/unsubscribe/" not in message.body
    assert template_preview.TEST_UNSUBSCRIBE in message.body
    assert "lead_id" not in message.metadata
    assert message.metadata["test"] == "true"


def test_a_test_email_goes_to_the_tester_and_is_never_a_touch(client):
    template = template_of(client)
    lead = LeadFactory(client=client, first_name="Priya", company_name="Harbour Dental")
    touch = ScheduledTouchFactory(lead=lead, channel="email", touch_number=1)
    before = Lead.objects.values("touch_count", "last_contacted_at", "status").get(pk=lead.pk)
    touch_before = ScheduledTouch.objects.values("status", "activity_id", "attempts").get(pk=touch.pk)

    sent = template_preview.send_test_email(template, lead, "me@agency.example.com")

    [message] = mail.outbox
    assert message.to == ["me@agency.example.com"] == [sent.to]
    assert message.subject == sent.subject == "[TEST] Quick question, Priya"
    assert sent.message_id == str(message.anymail_status.message_id)
    assert not Activity.objects.exists()
    assert Lead.objects.values("touch_count", "last_contacted_at", "status").get(pk=lead.pk) == before
    assert ScheduledTouch.objects.values("status", "activity_id", "attempts").get(pk=touch.pk) == touch_before


@pytest.mark.parametrize(
    ("fields", "to", "reason"),
    [
        ({"channel": "sms", "subject": ""}, "me@agency.example.com", "not_an_email_template"),
        ({"body": "Hi {last_name}"}, "me@agency.example.com", "missing_field:last_name"),
        ({}, "", "invalid_test_address"),
        ({}, "me@agency.example.com, you@agency.example.com", "invalid_test_address"),
    ],
)
def test_a_test_email_is_refused_before_the_backend(client, fields, to, reason):
    template = template_of(client, **fields)
    lead = LeadFactory(client=client, last_name="")

    with pytest.raises(SendBlocked) as raised:
        template_preview.send_test_email(template, lead, to)

    assert raised.value.reason == reason
    assert mail.outbox == []


def test_a_test_of_text_the_send_path_refuses_is_refused(client):
    template = unchecked_template(client, subject="Two\nlines", body="Hi")

    with pytest.raises(InvalidTouch):
        template_preview.send_test_email(template, LeadFactory(client=client), "me@agency.example.com")

    assert mail.outbox == []


def test_a_provider_failure_is_a_provider_error_and_records_nothing(client, settings, monkeypatch):
    settings.EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
    settings.ANYMAIL = {"POSTMARK_SERVER_TOKEN": "test-server-token"}
    monkeypatch.setattr(requests.Session, "request", FakeEspHttp([http_response(503, {"ErrorCode": 503})]))

    with pytest.raises(ProviderError) as raised:
        template_preview.send_test_email(template_of(client), LeadFactory(client=client), "me@agency.example.com")

    assert raised.value.code == 503
    assert not Activity.objects.exists()


def test_an_unconfigured_backend_is_a_provider_error(client, settings):
    settings.EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
    settings.ANYMAIL = {}

    with pytest.raises(ProviderError) as raised:
        template_preview.send_test_email(template_of(client), LeadFactory(client=client), "me@agency.example.com")

    assert raised.value.code == "not_configured"


def test_a_test_email_goes_from_the_first_active_mailbox_else_a_warming_one_never_a_paused_one(client):
    lead = LeadFactory(client=client, first_name="Priya")
    MailboxFactory(client=client, address="amy@mg.bluegum.example.com", state="paused")
    MailboxFactory(client=client, address="bo@mg.bluegum.example.com", display_name="Bo Chen", state="warming")
    assert template_preview.preview_mailbox(client).address == "bo@mg.bluegum.example.com"
    MailboxFactory(client=client, address="zoe@mg.bluegum.example.com", display_name="Zoe Park", state="active")

    template_preview.send_test_email(template_of(client), lead, "me@agency.example.com")

    [message] = mail.outbox
    assert message.from_email == "Zoe Park <zoe@mg.bluegum.example.com>"
    assert template_preview.preview_mailbox(ClientFactory()) is None


def test_a_client_with_mailboxes_only_can_send_a_test_email():
    client = ClientFactory(name="Blue Gum Physio", sending_email="")
    MailboxFactory(client=client, address="sam@mg.bluegum.example.com", display_name="")

    template_preview.send_test_email(template_of(client), LeadFactory(client=client), "me@agency.example.com")

    [message] = mail.outbox
    assert message.from_email == "Blue Gum Physio <sam@mg.bluegum.example.com>"


def test_a_test_email_goes_through_its_mailbox_esp_account(client, settings, monkeypatch):
    settings.OUTREACH_MAILBOX_ACCOUNTS = {
        "mg2": {"backend": "anymail.backends.mailgun.EmailBackend",
                "options": {"api_key_env": "MAILGUN_KEY_2", "sender_domain": "mg.bluegum.example.com"}},
    }  # fmt: skip
    monkeypatch.setenv("MAILGUN_KEY_2", "key-two")
    MailboxFactory(client=client, address="sam@mg.bluegum.example.com", display_name="Sam Lee", account="mg2")
    http = FakeEspHttp([http_response(200, {"id": "<test-1@mg.bluegum.example.com>", "message": "Queued."})])
    monkeypatch.setattr(requests.Session, "request", http)

    sent = template_preview.send_test_email(template_of(client), LeadFactory(client=client), "me@agency.example.com")

    [call] = http.calls
    assert call["url"] == "https://api.mailgun.net/v3/mg.bluegum.example.com/messages"
    assert call["auth"] == ("api", "key-two")
    assert call["data"]["from"] == ["Sam Lee <sam@mg.bluegum.example.com>"]
    assert call["data"]["to"] == ["me@agency.example.com"]
    assert sent.message_id == "<test-1@mg.bluegum.example.com>"
    assert mail.outbox == []  # nothing through the default backend


def test_a_mailbox_account_missing_its_secret_is_a_provider_error_and_nothing_is_sent(client, settings, monkeypatch):
    settings.OUTREACH_MAILBOX_ACCOUNTS = {"mg2": {"backend": "anymail.backends.mailgun.EmailBackend",
                                                  "options": {"api_key_env": "MAILGUN_KEY_2"}}}  # fmt: skip
    monkeypatch.delenv("MAILGUN_KEY_2", raising=False)
    MailboxFactory(client=client, address="sam@mg.bluegum.example.com", account="mg2")

    with pytest.raises(ProviderError) as raised:
        template_preview.send_test_email(template_of(client), LeadFactory(client=client), "me@agency.example.com")

    assert raised.value.code == "missing_secret"
    assert mail.outbox == []
