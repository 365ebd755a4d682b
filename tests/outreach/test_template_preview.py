"""The MessageTemplate admin: the placeholder syntax on the form, the preview of a saved template for a lead of
its client (never another client's), and "Send a test to me" (a test email to the user, never a touch)."""

from __future__ import annotations

import re

import pytest
import requests
from django.contrib.admin.models import LogEntry
from django.contrib.messages import get_messages
from django.core import mail
from django.test import Client as HttpClient
from django.urls import reverse

from outreach.models import Activity, Lead, ScheduledTouch
from tests.engines.providers.fakes import FakeEspHttp, http_response
from tests.factories import ClientFactory, LeadFactory, MessageTemplateFactory, ScheduledTouchFactory, StaffUserFactory

pytestmark = pytest.mark.django_db

BODY = "Hi {first_name}, {company_name|your practice} looks busy. {sender_name|The team}"
LEAD_STATE = ("touch_count", "last_contacted_at", "status", "email_opted_out")


def preview_url(template, lead=None):
    url = reverse("admin:outreach_messagetemplate_preview", args=[template.pk])
    return url if lead is None else f"{url}?lead={lead.pk}"


def send_url(template):
    return reverse("admin:outreach_messagetemplate_send_test", args=[template.pk])


def messages_of(response):
    return [str(message) for message in get_messages(response.wsgi_request)]


@pytest.fixture(autouse=True)
def anymail_test_backend(settings):
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    settings.PUBLIC_BASE_URL = "https://outreach.example.com"
    mail.outbox = []


@pytest.fixture
def world():
    mine = ClientFactory(name="Harbour Physio", sender_name="Sam")
    theirs = ClientFactory(name="Rival Legal")
    return {
        "mine": mine,
        "theirs": theirs,
        "first": LeadFactory(client=mine, first_name="Priya", company_name="Harbour Dental"),
        "no_company": LeadFactory(client=mine, first_name="Alex", company_name=""),
        "no_name": LeadFactory(client=mine, first_name="", company_name="Dune Co"),
        "their_lead": LeadFactory(client=theirs, first_name="Secret", company_name="Rival Co"),
        "email": MessageTemplateFactory(client=mine, subject="Quick question, {first_name|there}", body=BODY),
        "sms": MessageTemplateFactory(client=mine, channel="sms", subject="", body="Hi {first_name|there}"),
        "their_template": MessageTemplateFactory(client=theirs),
    }


@pytest.fixture
def staff_user(world):
    return StaffUserFactory(clients=[world["mine"]])


@pytest.fixture(params=["superuser", "staff"])
def http(request, world, admin_client, staff_user):
    """Each page is tried as a superuser and as a staff member of only the template's client."""
    if request.param == "superuser":
        return admin_client
    http = HttpClient()
    http.force_login(staff_user)
    return http


# --- the form -----------------------------------------------------------------------------------------------


def test_the_change_form_explains_the_placeholders_and_previews_the_first_lead(http, world):
    response = http.get(reverse("admin:outreach_messagetemplate_change", args=[world["email"].pk]))

    page = response.content.decode()
    assert response.status_code == 200
    for name in ("first_name", "last_name", "full_name", "company_name", "title", "industry", "country"):
        assert f"{{{name}}}" in page
    assert "{sender_name}" in page and "{client_name}" in page
    assert "{field|fallback}" in page
    assert "missing_field" in page
    assert "control characters" in page
    assert "Hi Priya, Harbour Dental looks busy. Sam" in strip_marks(page)
    assert preview_url(world["email"]) in page


def test_the_add_form_explains_the_placeholders_without_a_preview(http):
    response = http.get(reverse("admin:outreach_messagetemplate_add"))

    page = response.content.decode()
    assert response.status_code == 200
    assert "{field|fallback}" in page and "missing_field" in page
    assert "template-preview-panel" not in page


# --- the preview --------------------------------------------------------------------------------------------


def strip_marks(page):
    """The page's text with the preview's <mark> tags taken out, so a rendered sentence reads as one string."""
    return re.sub(r"</?mark[^>]*>", "", page)


def test_the_preview_renders_the_first_lead_by_default(http, world):
    response = http.get(preview_url(world["email"]))

    page = strip_marks(response.content.decode())
    assert response.status_code == 200
    assert "Quick question, Priya" in page
    assert "Hi Priya, Harbour Dental looks busy. Sam" in page
    assert f'value="{world["first"].pk}"' in page
    assert "Secret" not in page


def test_the_preview_renders_a_chosen_lead_and_flags_the_fallback(http, world):
    response = http.get(preview_url(world["email"], world["no_company"]))

    page = strip_marks(response.content.decode())
    assert "Hi Alex, your practice looks busy. Sam" in page
    assert "{company_name|your practice}</code> &rarr; fallback &#x27;your practice&#x27; used" in page
    assert "(the lead&#x27;s company is empty)" in page
    assert 'class="placeholder-fallback"' in response.content.decode()


def test_the_preview_flags_a_missing_field_and_says_the_send_is_blocked(http, world):
    response = http.get(preview_url(world["email"], world["no_name"]))

    page = response.content.decode()
    assert "is blocked (missing_field:first_name)" in page
    assert 'class="placeholder-missing"' in page
    assert "first name is empty, no fallback: the send is blocked (missing_field:first_name)" in page
    assert send_url(world["email"]) not in page
    assert "No test can be sent for this lead" in page
    assert "Quick question, there" in strip_marks(page)


def test_a_lead_of_another_client_is_refused(http, world):
    response = http.get(preview_url(world["email"], world["their_lead"]))

    page = response.content.decode()
    assert response.status_code == 200
    assert f"Lead {world['their_lead'].pk} is not a lead of this template’s client." in page
    assert "Secret" not in page and "Rival Co" not in page
    assert response.context["preview"] is None


def test_another_clients_template_is_not_found_for_staff(client, world, staff_user):
    client.force_login(staff_user)

    assert client.get(preview_url(world["their_template"])).status_code == 404
    assert client.post(send_url(world["their_template"]), {"lead": world["their_lead"].pk}).status_code == 404
    assert mail.outbox == []


def test_an_sms_template_is_previewed_without_a_test_button(http, world):
    response = http.get(preview_url(world["sms"]))

    page = response.content.decode()
    assert "Hi Priya" in strip_marks(page)
    assert send_url(world["sms"]) not in page
    assert "email templates only" in page


# --- send a test to me --------------------------------------------------------------------------------------


def test_send_a_test_to_me_emails_the_user_and_records_no_touch(http, world):
    lead = world["no_company"]
    touch = ScheduledTouchFactory(lead=lead, channel="email", touch_number=1)
    lead_before = Lead.objects.values(*LEAD_STATE).get(pk=lead.pk)
    touch_before = ScheduledTouch.objects.values("status", "activity_id", "attempts").get(pk=touch.pk)
    user = http.get(preview_url(world["email"])).wsgi_request.user
    assert send_url(world["email"]) in http.get(preview_url(world["email"], lead)).content.decode()

    response = http.post(send_url(world["email"]), {"lead": lead.pk})

    assert response.status_code == 302
    assert response["Location"] == preview_url(world["email"], lead)
    [message] = mail.outbox
    assert message.to == [user.email]
    assert message.subject == "[TEST] Quick question, Alex"
    assert message.body.startswith("Hi Alex, your practice looks busy. Sam")
    assert message.extra_headers["X-Outreach-Test"] == "template-preview"
    assert "/unsubscribe/" not in message.body
    assert any(f"sent to {user.email}" in text for text in messages_of(response))
    assert not Activity.objects.exists()
    assert Lead.objects.values(*LEAD_STATE).get(pk=lead.pk) == lead_before
    assert ScheduledTouch.objects.values("status", "activity_id", "attempts").get(pk=touch.pk) == touch_before
    entry = LogEntry.objects.get(object_id=str(world["email"].pk))
    assert entry.user_id == user.pk
    assert f"Sent a test email to {user.email}" in entry.get_change_message()


def test_send_a_test_needs_a_post_with_csrf(world, staff_user):
    http = HttpClient(enforce_csrf_checks=True)
    http.force_login(staff_user)

    assert http.get(send_url(world["email"])).status_code == 405
    assert http.post(send_url(world["email"]), {"lead": world["first"].pk}).status_code == 403
    assert mail.outbox == []


def test_a_user_without_an_email_address_is_told_so(client, world, staff_user):
    staff_user.email = ""
    staff_user.save()
    client.force_login(staff_user)

    response = client.post(send_url(world["email"]), {"lead": world["first"].pk})

    assert response.status_code == 302
    assert mail.outbox == []
    assert any("your user has no email address" in text for text in messages_of(response))


def test_a_provider_error_is_a_message_not_a_500(http, world, settings, monkeypatch):
    settings.EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
    settings.ANYMAIL = {"POSTMARK_SERVER_TOKEN": "test-server-token"}
    monkeypatch.setattr(requests.Session, "request", FakeEspHttp([http_response(503, {"ErrorCode": 503})]))

    response = http.post(send_url(world["email"]), {"lead": world["first"].pk})

    assert response.status_code == 302
    assert any(text.startswith("No test sent: the email provider failed") for text in messages_of(response))
    assert not Activity.objects.exists()
    assert not LogEntry.objects.exists()


def test_a_test_for_a_blocked_lead_is_refused_with_the_reason(http, world):
    response = http.post(send_url(world["email"]), {"lead": world["no_name"].pk})

    assert mail.outbox == []
    assert messages_of(response) == [
        "No test sent: no first_name for this lead and no fallback: fill it in or write {first_name|fallback}"
    ]


def test_a_test_for_another_clients_lead_is_refused(http, world):
    response = http.post(send_url(world["email"]), {"lead": world["their_lead"].pk})

    assert response.status_code == 302
    assert mail.outbox == []
    assert any("is not a lead of this template" in text for text in messages_of(response))


def test_an_sms_template_sends_no_test(http, world):
    response = http.post(send_url(world["sms"]), {"lead": world["first"].pk})

    assert mail.outbox == []
    assert any("for email templates" in text for text in messages_of(response))


def test_a_user_who_cannot_change_the_template_cannot_send_a_test(client, world):
    viewer = StaffUserFactory(clients=[world["mine"]], permissions=["view_messagetemplate", "view_lead"])
    client.force_login(viewer)

    preview = client.get(preview_url(world["email"]))
    response = client.post(send_url(world["email"]), {"lead": world["first"].pk})

    assert preview.status_code == 200
    assert "Hi Priya" in strip_marks(preview.content.decode())
    assert send_url(world["email"]) not in preview.content.decode()
    assert response.status_code == 403
    assert mail.outbox == []


def test_a_user_who_may_not_see_leads_gets_no_preview(client, world):
    viewer = StaffUserFactory(clients=[world["mine"]], permissions=["view_messagetemplate", "change_messagetemplate"])
    client.force_login(viewer)

    assert client.get(preview_url(world["email"])).status_code == 403
    assert client.post(send_url(world["email"]), {"lead": world["first"].pk}).status_code == 403
    change = client.get(reverse("admin:outreach_messagetemplate_change", args=[world["email"].pk]))
    assert "Hi Priya" not in change.content.decode()
    assert mail.outbox == []
