"""Client pages: the ICP and learned weights as validated forms, active patterns, and the 30-day dashboard."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from outreach.models import Client
from tests.factories import (
    ActivityFactory,
    ClientFactory,
    ConversionPatternFactory,
    LeadFactory,
    ScheduledTouchFactory,
    when_patterns,
)

pytestmark = pytest.mark.django_db


def _form(client, **changes):
    data = {
        "name": client.name,
        "sender_name": "Sam",
        "sending_email": client.sending_email,
        "sending_phone": client.sending_phone,
        "timezone": client.timezone,
        "country": "AU",
        "physical_address": client.physical_address,
        "industries": "Dental\nAccounting, Legal",
        "employee_min": 5,
        "employee_max": 80,
        "countries": "Australia, NZ",
        "daily_email_limit": 200,
        "daily_sms_limit": 100,
        "daily_linkedin_limit": 40,
        "daily_voice_limit": 60,
        "daily_emails_per_company": 3,
        "sending_window_start": 7,
        "sending_window_end": 19,
        "exploration_rate": 0.1,
        # The mailboxes inline's management form: none added.
        "mailboxes-TOTAL_FORMS": 0,
        "mailboxes-INITIAL_FORMS": 0,
    }
    return {**data, **changes}


def test_the_sending_window_is_edited_and_one_ending_before_it_starts_is_refused(admin_client):
    client = ClientFactory()
    assert _post(admin_client, client, sending_window_start=8, sending_window_end=18, sends_on_weekends="on")
    client.refresh_from_db()
    assert (client.sending_window_start, client.sending_window_end, client.sends_on_weekends) == (8, 18, True)

    response = _post(admin_client, client, sending_window_start=19, sending_window_end=7)

    assert response.status_code == 200
    assert "The sending window must end after it starts" in str(response.context["adminform"].form.errors)
    client.refresh_from_db()
    assert (client.sending_window_start, client.sending_window_end) == (8, 18)


def _post(admin_client, client, **changes):
    return admin_client.post(reverse("admin:outreach_client_change", args=[client.pk]), _form(client, **changes))


def test_the_icp_is_edited_as_fields_and_stored_as_json(admin_client):
    client = ClientFactory(icp={"industries": ["Dental"], "employee_min": 5, "employee_max": 50, "note": "kept"})
    page = admin_client.get(reverse("admin:outreach_client_change", args=[client.pk])).content.decode()
    assert 'name="industries"' in page and 'name="employee_min"' in page and 'name="countries"' in page
    response = _post(admin_client, client)
    assert response.status_code == 302, response.context["adminform"].form.errors
    client.refresh_from_db()
    assert client.icp == {
        "industries": ["Dental", "Accounting", "Legal"],
        "employee_min": 5,
        "employee_max": 80,
        "countries": ["Australia", "NZ"],
        "note": "kept",
    }
    assert client.als_learned_weights is None


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"employee_min": 100, "employee_max": 10}, "must be at least the lower bound"),
        ({"countries": "Australia, Atlantis"}, "Unknown countries: Atlantis"),
        ({"employee_min": 0}, "Ensure this value is greater than or equal to 1"),
    ],
)
def test_an_invalid_icp_is_refused(admin_client, changes, error):
    client = ClientFactory()
    response = _post(admin_client, client, **changes)
    assert response.status_code == 200
    assert error in response.content.decode()
    assert Client.objects.get(pk=client.pk).icp == client.icp


WEIGHTS = {"weight_data_quality": 0.2, "weight_authority": 0.2, "weight_company_fit": 0.3, "weight_timing": 0.15}


def test_learned_weights_are_validated_like_a_who_pattern(admin_client):
    client = ClientFactory()
    response = _post(admin_client, client, **{**WEIGHTS, "weight_data_quality": 0.5})
    assert response.context["adminform"].form.non_field_errors() == [
        "Learned weights: weights: sum to 1.150, must be within 0.8-0.9"
    ]
    assert Client.objects.get(pk=client.pk).als_learned_weights is None
    response = _post(admin_client, client, weight_data_quality=0.2)
    assert "Give all four learned weights" in response.content.decode()
    assert _post(admin_client, client, **WEIGHTS).status_code == 302
    assert Client.objects.get(pk=client.pk).als_learned_weights == {
        "data_quality": 0.2, "authority": 0.2, "company_fit": 0.3, "timing": 0.15,
    }  # fmt: skip


def test_only_superusers_add_or_delete_clients(client, django_user_model):
    from django.contrib.auth.models import Permission

    from outreach.models import ClientMembership

    agency_client = ClientFactory()
    user = django_user_model.objects.create_user("staff", password="pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="outreach"))
    ClientMembership.objects.create(user=user, client=agency_client)
    client.force_login(user)
    assert client.get(reverse("admin:outreach_client_add")).status_code == 403
    assert client.get(reverse("admin:outreach_client_delete", args=[agency_client.pk])).status_code == 403
    assert client.get(reverse("admin:outreach_client_change", args=[agency_client.pk])).status_code == 200


def test_the_client_page_lists_its_active_patterns(admin_client):
    client = ClientFactory()
    active = ConversionPatternFactory(client=client, computed_at=timezone.now() - timedelta(hours=2))
    invalid = ConversionPatternFactory(
        client=client, pattern_type="when", patterns=when_patterns(best_hours=None), computed_at=timezone.now()
    )
    page = admin_client.get(reverse("admin:outreach_client_change", args=[client.pk])).content.decode()
    patterns = page[page.index('id="active-patterns"') :]
    assert reverse("admin:outreach_conversionpattern_change", args=[active.pk]) in patterns
    assert reverse("admin:outreach_conversionpattern_change", args=[invalid.pk]) in patterns
    assert "invalid newest" in patterns
    assert 'id="weights-over-time"' in page


def test_the_dashboard_counts_the_last_30_days_by_channel_week_and_sequence(admin_client):
    client = ClientFactory()
    now = timezone.now()
    leads = [LeadFactory(client=client) for _ in range(4)]
    for i, lead in enumerate(leads):
        sent = ActivityFactory(lead=lead, action="email_sent", channel="email", created_at=now - timedelta(days=2))
        ScheduledTouchFactory(lead=lead, status="sent", activity=sent, planned_sequence="email>sms")
        if i < 2:
            ActivityFactory(lead=lead, action="email_replied", channel="email", created_at=now - timedelta(days=1))
        if i == 0:
            ActivityFactory(lead=lead, action="meeting_booked", channel="email", created_at=now - timedelta(hours=5))
    ActivityFactory(lead=leads[0], action="sms_sent", channel="sms", created_at=now - timedelta(days=3))
    ActivityFactory(lead=leads[0], action="email_sent", channel="email", created_at=now - timedelta(days=40))
    ActivityFactory(action="email_sent", channel="email")  # another client's
    page = admin_client.get(reverse("admin:outreach_client_change", args=[client.pk])).content.decode()
    dashboard = page[page.index('id="client-dashboard"') :]
    by_channel = dashboard[dashboard.index('id="dashboard-by-channel"') : dashboard.index('id="dashboard-by-week"')]
    assert '<th scope="row">Email</th><td class="num">4</td><td class="num">2</td><td class="num">1</td>' in by_channel
    assert '<th scope="row">SMS</th><td class="num">1</td><td class="num">0</td><td class="num">0</td>' in by_channel
    by_sequence = dashboard[dashboard.index('id="dashboard-by-sequence"') :]
    assert '<th scope="row">email → sms</th><td class="num">4</td><td class="num">2</td>' in by_sequence
    assert '<td class="num">50.0%</td><td class="num">1</td><td class="num">25.0%</td>' in by_sequence
    assert 'id="dashboard-weeks"' in dashboard
