"""Every admin page renders; Activity is history (read-only for everyone) with its snapshot shown as a card."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from engines.rules.content import build_content_snapshot
from outreach.models import Activity
from tests.factories import (
    ActivityFactory,
    ConversionPatternFactory,
    LeadFactory,
    MessageTemplateFactory,
    ScheduledTouchFactory,
)

pytestmark = pytest.mark.django_db

MODELS = ["client", "lead", "activity", "conversionpattern", "scheduledtouch", "messagetemplate"]
ADDABLE = ["client", "lead", "conversionpattern", "messagetemplate"]


@pytest.fixture
def rows():
    touch = ScheduledTouchFactory()
    activity = ActivityFactory(lead=touch.lead)
    pattern = ConversionPatternFactory(client=touch.client)
    template = MessageTemplateFactory(client=touch.client)
    return {
        "client": touch.client,
        "lead": touch.lead,
        "activity": activity,
        "conversionpattern": pattern,
        "scheduledtouch": touch,
        "messagetemplate": template,
    }


@pytest.mark.parametrize("model", MODELS)
def test_changelist_and_change_pages_render(admin_client, rows, model):
    assert admin_client.get(reverse(f"admin:outreach_{model}_changelist")).status_code == 200
    assert admin_client.get(reverse(f"admin:outreach_{model}_change", args=[rows[model].pk])).status_code == 200


@pytest.mark.parametrize("model", ADDABLE)
def test_add_pages_render(admin_client, model):
    assert admin_client.get(reverse(f"admin:outreach_{model}_add")).status_code == 200


def test_the_template_form_offers_the_email_thread_with_its_help(admin_client):
    template = MessageTemplateFactory(email_thread="new")
    page = admin_client.get(reverse("admin:outreach_messagetemplate_change", args=[template.pk])).content.decode()
    assert '<select name="email_thread"' in page
    assert '<option value="new" selected>' in page
    assert "a follow-up goes out as a reply in the thread of the enrollment's first email" in page


@pytest.mark.parametrize("model", ["activity", "scheduledtouch"])
def test_history_and_outbox_cannot_be_added_changed_or_deleted_even_by_a_superuser(admin_client, rows, model):
    obj = rows[model]
    assert admin_client.get(reverse(f"admin:outreach_{model}_add")).status_code == 403
    assert admin_client.get(reverse(f"admin:outreach_{model}_delete", args=[obj.pk])).status_code == 403
    change = reverse(f"admin:outreach_{model}_change", args=[obj.pk])
    assert admin_client.post(change, {"led_to_booking": "on", "status": "cancelled"}).status_code == 403
    page = admin_client.get(change).content.decode()
    assert 'name="_save"' not in page
    obj.refresh_from_db()
    assert getattr(obj, "led_to_booking", False) is False
    assert getattr(obj, "status", "planned") == "planned"


def _email_activity(**lead_fields):
    lead = LeadFactory(first_name="Mia", company_name="Harbour Dental", industry="Dental", **lead_fields)
    template = MessageTemplateFactory(client=lead.client, name="Opening email")
    body = "Hi Mia, Harbour Dental is losing leads to slow follow-up. Open to a quick chat next week?"
    snapshot = build_content_snapshot(body, lead, subject="Faster follow-up", touch_number=2, client=lead.client)
    snapshot["template_id"] = str(template.pk)
    return ActivityFactory(lead=lead, content_snapshot=snapshot, touch_number=2), template


def test_activity_detail_shows_the_snapshot_as_a_card(admin_client):
    activity, template = _email_activity()
    page = admin_client.get(reverse("admin:outreach_activity_change", args=[activity.pk])).content.decode()
    card = page[page.index('id="snapshot-card"') :]
    assert "Subject: Faster follow-up" in card
    assert "losing leads to slow follow-up" in card
    for tag in activity.content_snapshot["pain_points_used"]:
        assert f'<span class="outreach-tag">{tag}</span>' in card
    assert f'<span class="outreach-tag cta">{activity.content_snapshot["cta_used"]}</span>' in card
    assert '<span class="tick" aria-hidden="true">✓</span> First name' in card
    assert '<span class="cross" aria-hidden="true">✗</span> Mutual connection' in card
    local = activity.content_snapshot
    assert f"{local['day_of_week']} {local['hour_of_day']:02d}:00 ({local['timezone']})" in card
    assert reverse("admin:outreach_messagetemplate_change", args=[template.pk]) in card
    assert "Opening email" in card
    # The raw JSON is folded below the card.
    assert '<details class="outreach-raw">' in page


def test_an_sms_card_shows_its_segments(admin_client):
    lead = LeadFactory()
    snapshot = build_content_snapshot("Hi there " * 30, lead, channel="sms")
    snapshot.update(segment_count=2, encoding="GSM-7")
    activity = ActivityFactory(lead=lead, action="sms_sent", channel="sms", content_snapshot=snapshot)
    page = admin_client.get(reverse("admin:outreach_activity_change", args=[activity.pk])).content.decode()
    assert "<dt>SMS segments</dt><dd>2 (GSM-7)</dd>" in page


def test_an_activity_without_a_snapshot_still_renders(admin_client):
    activity = ActivityFactory(action="meeting_booked", channel="", content_snapshot={"body": 5, "pain_points_used": 3})
    page = admin_client.get(reverse("admin:outreach_activity_change", args=[activity.pk]))
    assert page.status_code == 200
    assert "No message body was recorded." in page.content.decode()


def _changelist_ids(admin_client, **params):
    response = admin_client.get(reverse("admin:outreach_activity_changelist"), params)
    assert response.status_code == 200
    return {row.pk for row in response.context["cl"].result_list}


def test_activity_search_finds_by_lead_and_by_words_of_the_body(admin_client):
    by_body, _ = _email_activity()
    by_lead = ActivityFactory(lead=LeadFactory(last_name="Okonkwo"), content_snapshot={"body": "Hello there"})
    assert _changelist_ids(admin_client, q="okonkwo") == {by_lead.pk}
    assert _changelist_ids(admin_client, q="follow-up") == {by_body.pk}
    assert _changelist_ids(admin_client, q="quick chat") == {by_body.pk}
    assert _changelist_ids(admin_client, q=by_lead.lead.email) == {by_lead.pk}
    assert _changelist_ids(admin_client, q="nothing-like-this") == set()
    # A word that names a lead and is also in another activity's body finds both.
    mentions = ActivityFactory(content_snapshot={"body": "Okonkwo recommended we talk."})
    assert _changelist_ids(admin_client, q="okonkwo") == {by_lead.pk, mentions.pk}


def test_activity_filters(admin_client):
    booked = ActivityFactory(led_to_booking=True)
    sms = ActivityFactory(action="sms_sent", channel="sms")
    other_client = ActivityFactory()
    assert _changelist_ids(admin_client, led_to_booking__exact="1") == {booked.pk}
    assert _changelist_ids(admin_client, channel__exact="sms") == {sms.pk}
    assert _changelist_ids(admin_client, action__exact="sms_sent") == {sms.pk}
    assert _changelist_ids(admin_client, client__id__exact=other_client.client_id) == {other_client.pk}
    Activity.objects.filter(pk=sms.pk).update(created_at=timezone.now() - timedelta(days=30))
    since = (timezone.now() - timedelta(days=7)).isoformat()
    assert sms.pk not in _changelist_ids(admin_client, created_at__gte=since)
    assert booked.pk in _changelist_ids(admin_client, created_at__gte=since)


def test_a_huge_history_is_counted_only_up_to_a_cap(admin_client, monkeypatch):
    from outreach.admin.pagination import CappedCountPaginator

    monkeypatch.setattr(CappedCountPaginator, "cap", 2)
    for _ in range(3):
        ActivityFactory()
    page = admin_client.get(reverse("admin:outreach_activity_changelist")).content.decode()
    assert "More than 2 activities" in page
    searched = admin_client.get(reverse("admin:outreach_activity_changelist"), {"q": "Nguyen"}).content.decode()
    assert "more than 2 results" in searched
    monkeypatch.setattr(CappedCountPaginator, "cap", 10)
    assert "3 activities" in admin_client.get(reverse("admin:outreach_activity_changelist")).content.decode()


def test_a_search_matching_a_lead_and_many_bodies_finds_them_all(admin_client, monkeypatch):
    from outreach.admin import activity as activity_admin

    monkeypatch.setattr(activity_admin, "LEAD_MATCH_LIMIT", 1)
    by_lead = ActivityFactory(lead=LeadFactory(last_name="Okonkwo"), content_snapshot={"body": "Hello there"})
    mentions = {ActivityFactory(content_snapshot={"body": f"Okonkwo said hi {i}"}).pk for i in range(3)}
    assert _changelist_ids(admin_client, q="okonkwo") == {by_lead.pk, *mentions}
