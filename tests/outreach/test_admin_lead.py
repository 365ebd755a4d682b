"""The Lead pages: list columns, read-only service fields, the score explained, and actions that call services."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from engines.services.scoring.lead_score import score_lead
from outreach.models import Activity, Lead, ScheduledTouch
from tests.factories import ClientFactory, ConversionPatternFactory, LeadFactory, ScheduledTouchFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:outreach_lead_changelist")


def _change_url(lead):
    return reverse("admin:outreach_lead_change", args=[lead.pk])


def _messages(response):
    return [str(message) for message in get_messages(response.wsgi_request)]


def test_list_shows_score_tier_status_touches_and_the_next_planned_touch(admin_client):
    lead = LeadFactory(als_score=85, touch_count=3, status="in_sequence")
    now = timezone.now()
    ScheduledTouchFactory(lead=lead, scheduled_at=now + timedelta(days=1), status="cancelled")
    ScheduledTouchFactory(lead=lead, scheduled_at=now + timedelta(days=2), touch_number=2)
    ScheduledTouchFactory(lead=lead, scheduled_at=now + timedelta(days=5), touch_number=3)
    response = admin_client.get(CHANGELIST)
    row = response.context["cl"].result_list[0]
    assert row.next_touch_at == now + timedelta(days=2)
    page = response.content.decode()
    for cell in ('class="field-als_score">85<', 'class="field-tier">Hot<', 'class="field-touch_count">3<'):
        assert cell in page
    assert "In sequence" in page


def test_tier_filter(admin_client):
    hot, warm, cool, unscored = (
        LeadFactory(als_score=80),
        LeadFactory(als_score=79),
        LeadFactory(als_score=10),
        LeadFactory(),
    )
    found = {
        tier: {lead.pk for lead in admin_client.get(CHANGELIST, {"tier": tier}).context["cl"].result_list}
        for tier in ("hot", "warm", "cool")
    }
    assert found == {"hot": {hot.pk}, "warm": {warm.pk}, "cool": {cool.pk, unscored.pk}}


def _form(lead, **changes):
    data = {
        "first_name": lead.first_name,
        "last_name": lead.last_name,
        "email": lead.email,
        "phone": lead.phone,
        "linkedin_url": lead.linkedin_url,
        "company_name": lead.company_name,
        "title": lead.title,
        "industry": lead.industry,
        "employee_count": lead.employee_count,
        "country": lead.country,
        "region": "",
        "timezone": lead.timezone,
        "email_verified": "on",
        "scheduledtouch_set-TOTAL_FORMS": 0,
        "scheduledtouch_set-INITIAL_FORMS": 0,
        "scheduled_touches-TOTAL_FORMS": 0,
        "scheduled_touches-INITIAL_FORMS": 0,
        "activities-TOTAL_FORMS": 0,
        "activities-INITIAL_FORMS": 0,
    }
    return {**data, **changes}


def test_service_owned_fields_and_the_client_cannot_be_changed_in_the_form(admin_client):
    lead = LeadFactory(als_score=40, status="new", touch_count=0)
    other = ClientFactory()
    response = admin_client.post(
        _change_url(lead),
        _form(
            lead,
            first_name="Renamed",
            als_score=99,
            status="converted",
            touch_count=12,
            do_not_contact="on",
            converted_at="2026-01-01 00:00:00",
            client=other.pk,
        ),
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    lead.refresh_from_db()
    assert lead.first_name == "Renamed"
    assert (lead.als_score, lead.status, lead.touch_count, lead.do_not_contact, lead.converted_at) == (
        40, "new", 0, False, None,
    )  # fmt: skip
    assert lead.client_id != other.pk


def test_a_new_lead_is_added_into_a_chosen_client(admin_client):
    client = ClientFactory()
    lead = LeadFactory.build(client=client)
    response = admin_client.post(reverse("admin:outreach_lead_add"), _form(lead, client=client.pk))
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Lead.objects.get(email=lead.email).client == client


def test_the_score_is_explained_component_by_component(admin_client):
    lead = LeadFactory(title="CEO", is_hiring=True, is_competitor=True)
    score = score_lead(lead)
    page = admin_client.get(_change_url(lead)).content.decode()
    explanation = page[page.index('id="score-explanation"') :]
    assert f"Score <strong>{score}</strong> of 100" in explanation
    assert 'id="score-chart"' in explanation and 'id="weights-chart"' in explanation
    # Authority: 22 of 25 points at the default weight 0.25 contributes 22.0; risk deducts 10.
    assert '<th scope="row">Authority</th><td class="num">22</td><td class="num">25</td>' in explanation
    assert '<td class="num">0.25</td>' in explanation and '<td class="num">22.0</td>' in explanation
    assert "deducted" in explanation and '<td class="num">-10.0</td>' in explanation
    assert "the scorer&#x27;s default weights" in explanation


def test_weights_from_a_pattern_link_to_it(admin_client):
    lead = LeadFactory()
    pattern = ConversionPatternFactory(client=lead.client, computed_at=timezone.now() - timedelta(hours=1))
    score_lead(lead)
    page = admin_client.get(_change_url(lead)).content.decode()
    assert reverse("admin:outreach_conversionpattern_change", args=[pattern.pk]) in page
    # The learned weight and the default are both shown (bar and marker), in the table fallback too.
    assert "<td>0.40</td><td>0.25</td>" in page


def test_an_unscored_lead_says_how_to_score_it(admin_client):
    page = admin_client.get(_change_url(LeadFactory())).content.decode()
    assert "Not scored yet" in page


def test_the_sequence_and_the_activities_are_inline(admin_client):
    touch = ScheduledTouchFactory(status="cancelled", reason="lead_replied")
    page = admin_client.get(_change_url(touch.lead)).content.decode()
    assert "lead_replied" in page and "Cancelled" in page


def _act(admin_client, action, leads):
    return admin_client.post(
        CHANGELIST, {"action": action, "_selected_action": [lead.pk for lead in leads]}, follow=True
    )


def test_rescore_action_scores_the_selected_leads(admin_client):
    leads = [LeadFactory(), LeadFactory()]
    untouched = LeadFactory()
    response = _act(admin_client, "rescore", leads)
    assert "Rescored 2 lead(s)." in _messages(response)
    assert all(Lead.objects.get(pk=lead.pk).als_score is not None for lead in leads)
    assert Lead.objects.get(pk=untouched.pk).als_score is None


def test_plan_action_plans_sequences(admin_client):
    leads = [LeadFactory(), LeadFactory()]
    for lead in leads:
        score_lead(lead)
    response = _act(admin_client, "plan", leads)
    touches = ScheduledTouch.objects.filter(lead__in=leads, status="planned").count()
    assert touches > 0
    assert any(f"Planned 2 lead(s) ({touches} touches)" in message for message in _messages(response))


def test_mark_do_not_contact_cancels_the_planned_touches(admin_client):
    lead = LeadFactory()
    ScheduledTouchFactory(lead=lead)
    ScheduledTouchFactory(lead=lead, touch_number=2)
    response = _act(admin_client, "mark_do_not_contact", [lead])
    assert "Marked 1 lead(s) do-not-contact; cancelled 2 planned touch(es)." in _messages(response)
    assert Lead.objects.get(pk=lead.pk).do_not_contact
    assert set(ScheduledTouch.objects.filter(lead=lead).values_list("status", "reason")) == {
        ("cancelled", "do_not_contact")
    }


def test_record_meeting_booked_converts_the_lead(admin_client):
    lead = LeadFactory(status="in_sequence")
    planned = ScheduledTouchFactory(lead=lead)
    response = _act(admin_client, "record_meeting_booked", [lead])
    assert "Recorded a meeting booked for 1 lead(s)." in _messages(response)
    lead.refresh_from_db()
    assert lead.status == "converted" and lead.converted_at is not None
    assert Activity.objects.filter(lead=lead, action="meeting_booked").count() == 1
    assert ScheduledTouch.objects.get(pk=planned.pk).status == "cancelled"
    # A second click records nothing more: the lead is already converted.
    assert "Recorded a meeting booked for 0 lead(s)." in _messages(_act(admin_client, "record_meeting_booked", [lead]))


def test_actions_need_the_change_permission(client, django_user_model):
    from django.contrib.auth.models import Permission

    from outreach.models import ClientMembership

    lead = LeadFactory()
    user = django_user_model.objects.create_user("viewer", password="pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename="view_lead"))
    ClientMembership.objects.create(user=user, client=lead.client)
    client.force_login(user)
    response = _act(client, "rescore", [lead])
    assert Lead.objects.get(pk=lead.pk).als_score is None
    assert "rescore" not in response.content.decode()


def test_search_by_name_email_or_company(admin_client):
    mia = LeadFactory(
        first_name="Mia", last_name="Okafor", email="mia@harbour.example.com", company_name="Harbour Dental"
    )
    LeadFactory(first_name="Noah", last_name="Smith", email="noah@rival.example.com", company_name="Rival_Legal 100%")

    def found(term):
        return {lead.pk for lead in admin_client.get(CHANGELIST, {"q": term}).context["cl"].result_list}

    assert found("okafor") == found("MIA@HARBOUR.example.com") == found("harbour dent") == {mia.pk}
    assert found("Mia Okafor") == found('"Harbour Dental" mia') == {mia.pk}
    # LIKE's wildcards are searched for literally.
    assert found("%") == found("_legal") == found("100%") == {LeadFactory._meta.model.objects.get(last_name="Smith").pk}


def test_an_action_on_every_search_result_reaches_only_the_results(admin_client):
    found, other = LeadFactory(last_name="Okafor"), LeadFactory(last_name="Smith")
    response = admin_client.post(
        CHANGELIST + "?q=okafor",
        {"action": "rescore", "select_across": "1", "index": "0", "_selected_action": [found.pk]},
        follow=True,
    )
    assert "Rescored 1 lead(s)." in _messages(response)
    assert Lead.objects.get(pk=found.pk).als_score is not None
    assert Lead.objects.get(pk=other.pk).als_score is None
