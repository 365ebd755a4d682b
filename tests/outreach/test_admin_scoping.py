"""Who sees what: a staff member sees only the clients they are a member of, on every page, filter, autocomplete,
search and action; a superuser sees all."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from outreach.models import ClientMembership, Lead
from tests.factories import (
    ActivityFactory,
    ClientFactory,
    ConversionPatternFactory,
    LeadFactory,
    MessageTemplateFactory,
    ScheduledTouchFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    mine, theirs = ClientFactory(name="Harbour Dental"), ClientFactory(name="Rival Legal")
    rows = {}
    for name, client in (("mine", mine), ("theirs", theirs)):
        lead = LeadFactory(client=client, last_name=f"{name.title()}son")
        rows[name] = {
            "client": client,
            "lead": lead,
            "activity": ActivityFactory(lead=lead, content_snapshot={"body": "Open to a quick chat?"}),
            "conversionpattern": ConversionPatternFactory(client=client),
            "scheduledtouch": ScheduledTouchFactory(lead=lead),
            "messagetemplate": MessageTemplateFactory(client=client),
        }
    return rows


@pytest.fixture
def staff(client, django_user_model, world):
    user = django_user_model.objects.create_user("alex", password="pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="outreach"))
    ClientMembership.objects.create(user=user, client=world["mine"]["client"])
    client.force_login(user)
    return client


MODELS = ["client", "lead", "activity", "conversionpattern", "scheduledtouch", "messagetemplate"]


@pytest.mark.parametrize("model", MODELS)
def test_a_changelist_shows_only_the_members_clients(staff, world, model):
    response = staff.get(reverse(f"admin:outreach_{model}_changelist"))
    assert {row.pk for row in response.context["cl"].result_list} == {world["mine"][model].pk}


@pytest.mark.parametrize("model", MODELS)
def test_another_clients_row_typed_in_the_url_is_not_found(staff, world, model):
    assert staff.get(reverse(f"admin:outreach_{model}_change", args=[world["theirs"][model].pk])).status_code == 404
    assert staff.get(reverse(f"admin:outreach_{model}_change", args=[world["mine"][model].pk])).status_code == 200


@pytest.mark.parametrize("model", ["lead", "activity", "conversionpattern", "scheduledtouch", "messagetemplate"])
def test_the_client_filter_offers_only_the_members_clients(staff, model):
    page = staff.get(reverse(f"admin:outreach_{model}_changelist")).content.decode()
    assert "Harbour Dental" in page
    assert "Rival Legal" not in page


def test_search_does_not_reach_another_client(staff, world):
    leads = staff.get(reverse("admin:outreach_lead_changelist"), {"q": "Theirsson"}).context["cl"].result_list
    assert list(leads) == []
    activities = staff.get(reverse("admin:outreach_activity_changelist"), {"q": "quick chat"}).context["cl"]
    assert {row.pk for row in activities.result_list} == {world["mine"]["activity"].pk}


def test_autocomplete_offers_only_the_members_clients(staff, world):
    response = staff.get(
        reverse("admin:autocomplete"), {"app_label": "outreach", "model_name": "lead", "field_name": "client"}
    )
    assert [row["text"] for row in response.json()["results"]] == ["Harbour Dental"]


def test_the_add_form_offers_only_the_members_clients(staff):
    page = staff.get(reverse("admin:outreach_conversionpattern_add")).content.decode()
    assert "Harbour Dental" in page and "Rival Legal" not in page


def test_an_action_cannot_reach_another_clients_lead(staff, world):
    theirs, mine = world["theirs"]["lead"], world["mine"]["lead"]
    staff.post(
        reverse("admin:outreach_lead_changelist"),
        {"action": "mark_do_not_contact", "_selected_action": [theirs.pk, mine.pk]},
    )
    assert not Lead.objects.get(pk=theirs.pk).do_not_contact
    assert Lead.objects.get(pk=mine.pk).do_not_contact


def test_a_lead_cannot_be_added_into_another_client(staff, world):
    response = staff.post(
        reverse("admin:outreach_lead_add"),
        {"client": world["theirs"]["client"].pk, "first_name": "Sneaky", "scheduled_touches-TOTAL_FORMS": 0,
         "scheduled_touches-INITIAL_FORMS": 0, "activities-TOTAL_FORMS": 0, "activities-INITIAL_FORMS": 0},
    )  # fmt: skip
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not Lead.objects.filter(first_name="Sneaky").exists()


def test_a_staff_member_without_clients_sees_no_outreach_module(client, django_user_model, world):
    user = django_user_model.objects.create_user("nobody", password="pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="outreach"))
    client.force_login(user)
    assert "outreach" not in client.get(reverse("admin:index")).content.decode().lower()


def test_a_superuser_sees_every_client(admin_client, world):
    response = admin_client.get(reverse("admin:outreach_lead_changelist"))
    assert {row.pk for row in response.context["cl"].result_list} == {
        world["mine"]["lead"].pk,
        world["theirs"]["lead"].pk,
    }
