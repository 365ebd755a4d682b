"""A message template's page in a real browser: the placeholder syntax on the form, the preview for a chosen lead
(a fallback used and a missing field flagged), "Send a test to me" (through the configured email backend,
recorded in the template's history and never as a touch), and a subject with a control character refused with
an error on the form."""

from __future__ import annotations

import re

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import User
from django.core import mail
from django.urls import reverse
from playwright.sync_api import expect

from outreach.models import Activity, Lead, MessageTemplate, ScheduledTouch
from tests.browser.conftest import screenshot
from tests.factories import ClientFactory, LeadFactory, MessageTemplateFactory

pytestmark = pytest.mark.integration

BODY = "Hi {first_name}, {company_name|your practice} looks busy. {sender_name|The team}"
SUBJECT = "Quick question, {first_name|there}"
LEAD_STATE = ("touch_count", "last_contacted_at", "status", "email_opted_out", "do_not_contact")


@pytest.fixture(autouse=True)
def anymail_test_backend(settings) -> None:
    """As tests/outreach/test_template_preview.py: anymail's test backend records each message in mail.outbox
    (the live server runs in this process, so the test sees what it sent)."""
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    settings.PUBLIC_BASE_URL = "https://outreach.example.com"
    mail.outbox = []


def test_preview_a_template_for_a_chosen_lead_and_send_a_test_to_me(admin_login, staff_user):
    client = ClientFactory(name="Harbour Physio", sender_name="Sam")
    first = LeadFactory.create(client=client, first_name="Priya", company_name="Harbour Dental")
    no_company = LeadFactory.create(client=client, first_name="Alex", company_name="")
    no_name = LeadFactory.create(client=client, first_name="", company_name="Dune Co")
    template = MessageTemplateFactory.create(client=client, subject=SUBJECT, body=BODY)
    user: User = staff_user("robin", client)
    lead_before = Lead.objects.values(*LEAD_STATE).get(pk=no_company.pk)
    page = admin_login(user)
    page.goto(reverse("admin:outreach_messagetemplate_change", args=[template.pk]))

    # The placeholder syntax, on the form.
    help_box = page.locator("fieldset.template-placeholders")
    expect(help_box).to_be_visible()
    expect(help_box).to_contain_text("{field|fallback}")
    expect(help_box).to_contain_text("missing_field:first_name")
    expect(help_box).to_contain_text("control characters")
    fields = help_box.locator("table.template-placeholder-fields")
    for written in ("{first_name}", "{company_name}", "{sender_name}", "{client_name}"):
        expect(fields.get_by_text(written, exact=True)).to_be_visible()
    expect(page.locator(".field-body .help")).to_contain_text("{field|fallback}")
    # The saved template for the client's first lead.
    panel = page.locator("fieldset.template-preview-panel")
    expect(panel.locator(".template-preview")).to_have_attribute("data-lead", str(first.pk))
    expect(panel.locator(".template-preview-body")).to_have_text("Hi Priya, Harbour Dental looks busy. Sam")
    expect(panel.locator(".template-preview-ok")).to_be_visible()
    screenshot(page, "template_form_placeholders_and_preview")

    # Preview it for a lead without a company: the fallback is used and flagged.
    page.locator("a.template-preview-link").click()
    expect(page.locator("body.template-preview-page")).to_be_visible()
    page.fill("#id_lead", str(no_company.pk))
    page.locator(".template-preview-lead-form input[type=submit]").click()
    preview = page.locator(".template-preview")
    expect(preview).to_have_attribute("data-lead", str(no_company.pk))
    expect(page).to_have_url(re.compile(rf"\?lead={no_company.pk}$"))
    expect(preview.locator(".template-preview-subject")).to_have_text("Quick question, Alex")
    expect(preview.locator(".template-preview-body")).to_have_text("Hi Alex, your practice looks busy. Sam")
    fallback = preview.locator(".template-preview-body mark.placeholder-fallback")
    expect(fallback).to_have_text("your practice")
    expect(fallback).to_have_attribute("title", re.compile(r"^\{company_name\|your practice\}: fallback"))
    flags = preview.locator("ul.template-preview-flags li")
    expect(flags).to_have_count(1)
    expect(flags.first).to_have_class("placeholder-fallback")
    expect(flags.first).to_contain_text("fallback 'your practice' used (the lead's company is empty)")
    expect(preview.locator(".template-preview-ok")).to_be_visible()
    screenshot(page, "template_preview_fallback")

    # A lead whose first name is missing (no fallback in the body): the send would be blocked, so no test.
    page.fill("#id_lead", str(no_name.pk))
    page.locator(".template-preview-lead-form input[type=submit]").click()
    expect(preview).to_have_attribute("data-lead", str(no_name.pk))
    expect(preview.locator(".template-preview-blocked")).to_contain_text("blocked (missing_field:first_name)")
    expect(preview.locator(".template-preview-body mark.placeholder-missing")).to_have_text("{first_name}")
    expect(preview.locator(".template-preview-subject")).to_have_text("Quick question, there")
    expect(page.locator("form.template-test-form")).to_have_count(0)
    expect(page.locator("#content-main")).to_contain_text("No test can be sent for this lead")

    # Back to the lead without a company, and send the test to me.
    page.fill("#id_lead", str(no_company.pk))
    page.locator(".template-preview-lead-form input[type=submit]").click()
    test_form = page.locator("form.template-test-form")
    expect(test_form).to_contain_text(f"lead #{no_company.pk}")
    expect(test_form).to_contain_text(user.email)
    test_form.locator("input[type=submit][value='Send a test to me']").click()
    expect(page.locator(".messagelist li.success")).to_have_text(
        f"Test email \u201c[TEST] Quick question, Alex\u201d sent to {user.email}. It is a test, not a touch: "
        f"nothing was recorded for {no_company}."
    )
    expect(page).to_have_url(re.compile(rf"/preview/\?lead={no_company.pk}$"))
    screenshot(page, "template_preview_test_sent")

    # It went through the configured backend, to me, marked as a test ...
    [message] = mail.outbox
    assert message.to == [user.email]
    assert message.subject == "[TEST] Quick question, Alex"
    assert message.body.startswith("Hi Alex, your practice looks busy. Sam")
    assert message.extra_headers["X-Outreach-Test"] == "template-preview"
    assert message.anymail_status.status == {"sent"}
    assert no_company.email not in message.to and "/unsubscribe/" not in message.body
    # ... recorded in the template's history, and never as a touch of the lead.
    entry = LogEntry.objects.get(object_id=str(template.pk))
    assert entry.user_id == user.pk
    assert entry.get_change_message() == f"Sent a test email to {user.email}, as lead {no_company.pk} would read it."
    assert not Activity.objects.filter(lead=no_company).exists()
    assert not ScheduledTouch.objects.filter(lead=no_company).exists()
    assert not Activity.objects.exists() and not ScheduledTouch.objects.exists()
    assert Lead.objects.values(*LEAD_STATE).get(pk=no_company.pk) == lead_before
    page.goto(reverse("admin:outreach_messagetemplate_history", args=[template.pk]))
    expect(page.locator("#change-history")).to_contain_text(f"Sent a test email to {user.email}")


def test_a_subject_with_a_control_character_is_refused_on_the_form(admin_login, staff_user):
    client = ClientFactory(name="Harbour Physio")
    LeadFactory.create(client=client, first_name="Priya")
    template = MessageTemplateFactory.create(client=client, subject=SUBJECT, body=BODY)
    page = admin_login(staff_user("robin", client))
    page.goto(reverse("admin:outreach_messagetemplate_change", args=[template.pk]))

    page.fill("#id_subject", "Quick question\x0b{first_name|there}")
    assert page.locator("#id_subject").input_value() == "Quick question\x0b{first_name|there}"
    page.locator("input[name=_save]").click()

    expect(page.locator(".errornote")).to_be_visible()
    expect(page.locator(".field-subject .errorlist")).to_have_text(
        "a subject is one line of text; it contains the control character U+000B: remove it"
    )
    expect(page.locator("#id_subject")).to_have_value("Quick question\x0b{first_name|there}")  # kept to correct
    # The preview panel says it shows the saved template, and does: not the text just refused.
    panel = page.locator("fieldset.template-preview-panel")
    expect(panel).to_contain_text("This is the saved template")
    expect(panel.locator(".template-preview-subject")).to_have_text("Quick question, Priya")
    expect(panel.locator(".template-preview-ok")).to_be_visible()
    expect(panel.locator(".template-preview-blocked")).to_have_count(0)
    screenshot(page, "template_subject_control_character")
    assert MessageTemplate.objects.get(pk=template.pk).subject == SUBJECT
    assert not LogEntry.objects.filter(object_id=str(template.pk)).exists()
    assert mail.outbox == []
