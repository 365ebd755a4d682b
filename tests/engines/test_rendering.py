from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from engines.exceptions import MissingField, SendBlocked
from engines.rules.placeholders import PLACEHOLDERS, template_errors, text_errors
from engines.services.sending.rendering import render_text, render_touch
from outreach.models import Client, Lead
from tests.factories import (
    ActivityFactory,
    ClientFactory,
    LeadFactory,
    ManualTaskFactory,
    MessageTemplateFactory,
    ScheduledTouchFactory,
)

LEAD = {
    "first_name": "Priya",
    "last_name": "Shah",
    "company_name": "Harbour Dental",
    "title": "Practice Manager",
    "industry": "Dental",
    "country": "Australia",
}


def people(**lead_fields):
    client = Client(name="Blue Gum Physio", sender_name="Sam Lee")
    return Lead(client=client, **{**LEAD, **lead_fields}), client


@pytest.mark.parametrize(
    "name, expected",
    [
        ("first_name", "Priya"),
        ("last_name", "Shah"),
        ("full_name", "Priya Shah"),
        ("company_name", "Harbour Dental"),
        ("title", "Practice Manager"),
        ("industry", "Dental"),
        ("country", "Australia"),
        ("sender_name", "Sam Lee"),
        ("client_name", "Blue Gum Physio"),
    ],
)
def test_each_placeholder_says_its_field(name, expected):
    lead, client = people()
    assert render_text(f"<{{{name}}}>", lead, client) == f"<{expected}>"


def test_every_placeholder_is_tested_and_documented():
    assert set(PLACEHOLDERS) == {
        "first_name",
        "last_name",
        "full_name",
        "company_name",
        "title",
        "industry",
        "country",
        "sender_name",
        "client_name",
    }
    assert all(placeholder.description for placeholder in PLACEHOLDERS.values())


def test_a_fallback_is_used_only_when_the_field_is_empty():
    text = "Hi {first_name|there}, from {sender_name | the team}"
    lead, client = people()
    assert render_text(text, lead, client) == "Hi Priya, from Sam Lee"
    lead, client = people(first_name="  ")
    client.sender_name = ""
    assert render_text(text, lead, client) == "Hi there, from the team"


@pytest.mark.parametrize("empty", ["", "   ", "None", "null", "N/A", "-", "\n\t", ", ."])
def test_a_field_with_no_data_and_no_fallback_blocks_with_its_name(empty):
    lead, client = people(first_name=empty)

    with pytest.raises(MissingField) as raised:
        render_text("Hi {first_name},", lead, client)

    assert raised.value.reason == "missing_field:first_name"
    assert isinstance(raised.value, SendBlocked)  # the dispatcher blocks it, never retries


def test_line_breaks_and_stray_separators_in_the_data_do_not_reshape_the_message():
    lead, client = people(company_name="Harbour\r\nDental\tGroup, ", first_name=",Priya;")
    assert render_text("{first_name}: about {company_name}", lead, client) == "Priya: about Harbour Dental Group"


def test_doubled_braces_are_literal_braces():
    lead, client = people()
    assert render_text("{{first_name}} is {first_name}; {{}}", lead, client) == "{first_name} is Priya; {}"


def test_an_unknown_placeholder_in_an_old_template_blocks_instead_of_going_out():
    lead, client = people()
    with pytest.raises(SendBlocked) as raised:
        render_text("Hi {frist_name}", lead, client)
    assert raised.value.reason == "unknown_placeholder:frist_name"


@given(st.one_of(st.none(), st.text(max_size=20)))
@settings(max_examples=200, deadline=None)
def test_never_hi_none_or_hi_comma(first_name):
    lead, client = people(first_name=first_name)
    text = render_text("Hi {first_name|there},", lead, client)
    normalized = " ".join((first_name or "").split()).strip(" ,;:")
    assert text in ("Hi there,", f"Hi {normalized},")
    assert text == "Hi there," or any(char.isalnum() for char in normalized)
    assert not text.startswith("Hi ,") and text != "Hi None,"


@pytest.mark.parametrize(
    "subject, body, expected",
    [
        ("Hi {first_name}", "{company_name|your team}, {{literal}}", []),
        ("", "Hi {frist_name}", ["body: unknown placeholder {frist_name}"]),
        ("{Company Name}", "ok", ["subject: unknown placeholder {Company Name}"]),
        ("", "Hi {first_name|}", ["body: {first_name|} has an empty fallback"]),
        ("", "Hi {first_name", ["body: a brace is not closed"]),
        ("", "Hi first_name}", ["body: a brace is not closed"]),
    ],
)
def test_template_errors_name_what_is_wrong(subject, body, expected):
    errors = template_errors(subject, body)
    assert len(errors) == len(expected)
    for error, start in zip(errors, expected, strict=True):
        assert error.startswith(start)


def test_text_errors_lists_the_known_placeholders():
    [error] = text_errors("{surname}")
    assert "{first_name}" in error and "{sender_name}" in error


@pytest.mark.django_db
def test_a_template_with_an_unknown_placeholder_is_refused_on_save_naming_it():
    template = MessageTemplateFactory.build(client=ClientFactory(), subject="Re {frist_name}", body="Hi {compnay}")

    with pytest.raises(ValidationError) as raised:
        template.full_clean()

    errors = raised.value.message_dict
    assert "{frist_name}" in errors["subject"][0]
    assert "{compnay}" in errors["body"][0]


@pytest.mark.django_db
def test_a_valid_template_saves():
    template = MessageTemplateFactory.build(client=ClientFactory(), body="Hi {first_name|there}")
    template.full_clean()


# --- which template a touch uses ---------------------------------------------------------------


@pytest.fixture
def touch(db):
    return ScheduledTouchFactory(channel="email", touch_number=3, lead=LeadFactory(first_name="Priya"))


def template(touch, number, channel="email", **fields):
    return MessageTemplateFactory(
        client=touch.client, channel=channel, touch_number=number, subject=f"T{number}", **fields
    )


def test_the_template_of_the_touchs_own_slot(touch):
    template(touch, 1)
    template(touch, 3, body="Third, {first_name}")
    template(touch, 4)

    rendered = render_touch(touch)

    assert (rendered.subject, rendered.body, rendered.template.touch_number) == ("T3", "Third, Priya", 3)


def test_else_the_nearest_lower_active_template_of_the_same_channel(touch):
    template(touch, 1)
    template(touch, 2, body="Second")
    template(touch, 3, channel="sms", body="SMS")
    template(touch, 3, active=False, body="Retired")
    MessageTemplateFactory(channel="email", touch_number=3, body="Another client's")

    assert render_touch(touch).body == "Second"


@pytest.mark.parametrize("numbers", [[], [4, 5]])
def test_no_template_blocks_the_touch(touch, numbers):
    for number in numbers:
        template(touch, number)
    with pytest.raises(SendBlocked) as raised:
        render_touch(touch)
    assert raised.value.reason == "no_template"


def sent_before(touch, body, channel="email"):
    """A send recorded for the touch's lead, counted on it as the recording counts it."""
    ActivityFactory(lead=touch.lead, action=f"{channel}_sent", channel=channel, content_snapshot={"body": body})
    touch.lead.touch_count += 1
    touch.lead.save(update_fields=["touch_count"])


def test_a_lower_template_whose_text_the_lead_already_got_is_passed_over_for_the_next_lower(touch):
    template(touch, 1, body="First, {first_name}")
    template(touch, 2, body="Second, {first_name}")
    sent_before(touch, "Second, Priya")

    rendered = render_touch(touch)

    assert (rendered.body, rendered.template.touch_number) == ("First, Priya", 1)


def test_the_steps_own_template_is_passed_over_too_when_the_lead_already_got_its_text(touch):
    template(touch, 2, body="Second")
    template(touch, 3, body="Third")
    sent_before(touch, "Third", channel="sms")  # the same words by another channel are the same text to a person
    assert render_touch(touch).body == "Second"


def test_a_text_in_an_open_task_counts_as_given_and_a_skipped_tasks_does_not(touch):
    template(touch, 1, body="First")
    template(touch, 2, body="Second")
    ManualTaskFactory(lead=touch.lead, message="Second")
    ManualTaskFactory(lead=touch.lead, message="First", status="skipped", closed_at=timezone.now())
    assert render_touch(touch).body == "First"


def test_when_the_lead_got_every_usable_text_the_touch_is_blocked_saying_which_template_to_write(touch):
    template(touch, 1, body="First")
    template(touch, 2, body="Hi {first_name}")
    sent_before(touch, "First")
    sent_before(touch, "Hi Priya")

    with pytest.raises(SendBlocked) as raised:
        render_touch(touch)

    assert raised.value.reason == "text_already_sent"
    assert "write a template for email touch 3" in str(raised.value)


def test_a_lead_with_no_send_counted_is_not_looked_up(touch, django_assert_num_queries):
    template(touch, 3, body="Third")
    with django_assert_num_queries(2):  # the templates and the open tasks; no sends to read
        assert render_touch(touch).body == "Third"


def test_the_texts_given_to_another_lead_do_not_count(touch):
    template(touch, 3, body="Third")
    ActivityFactory(client=touch.client, content_snapshot={"body": "Third"})
    assert render_touch(touch).body == "Third"


def test_the_lead_given_is_the_one_rendered(touch):
    template(touch, 3, body="Hi {first_name}")
    fresh = Lead.objects.get(pk=touch.lead_id)
    fresh.first_name = "Renamed"
    assert render_touch(touch, lead=fresh).body == "Hi Renamed"


@pytest.mark.django_db
def test_an_email_template_needs_a_subject():
    template = MessageTemplateFactory.build(client=ClientFactory(), channel="email", subject=" ")
    with pytest.raises(ValidationError) as raised:
        template.full_clean()
    assert raised.value.message_dict["subject"] == ["an email template needs a subject"]
    MessageTemplateFactory.build(client=template.client, channel="sms", subject="").full_clean()


def test_the_documentation_lists_every_placeholder():
    docs = (Path(__file__).resolve().parents[2] / "docs" / "messages.md").read_text()
    for name, placeholder in PLACEHOLDERS.items():
        assert f"`{{{name}}}`" in docs and placeholder.description in docs
