"""The journey in the admin: pause, resume, stop, re-enrol and undo do-not-contact on the lead list and on a
lead's page, their forms, who may act on which lead, and the lead's enrollments with the text of their steps."""

from __future__ import annotations

import zoneinfo

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from engines.services.journey import actions
from engines.services.planning.allocator import allocate_lead
from outreach.models import Enrollment, JourneyEvent, Lead, ScheduledTouch
from tests.factories import (
    ActivityFactory,
    ClientFactory,
    EnrollmentFactory,
    LeadFactory,
    ScheduledTouchFactory,
    StaffUserFactory,
)

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:outreach_lead_changelist")
SLUGS = ("pause", "resume", "stop", "reenroll", "undo-do-not-contact")


def journey_url(lead, action):
    return reverse("admin:outreach_lead_journey", args=[lead.pk, action])


def change_url(lead):
    return reverse("admin:outreach_lead_change", args=[lead.pk])


def messages_of(response):
    return [str(message) for message in get_messages(response.wsgi_request)]


def enrolled(client=None, **fields):
    lead = LeadFactory(client=client or ClientFactory(), **fields)
    allocate_lead(lead)
    return Lead.objects.get(pk=lead.pk)


def state_of(lead):
    return Enrollment.objects.filter(lead=lead).order_by("-started_at", "-pk").values_list("state", flat=True)[0]


def act(http, action, leads, **extra):
    data = {"action": action, "_selected_action": [lead.pk for lead in leads], **extra}
    return http.post(CHANGELIST, data, follow=True)


@pytest.fixture
def world():
    mine, theirs = ClientFactory(name="Harbour Dental"), ClientFactory(name="Rival Legal")
    return {"mine": mine, "theirs": theirs, "my_lead": enrolled(mine), "their_lead": enrolled(theirs)}


@pytest.fixture
def staff_user(world):
    return StaffUserFactory(clients=[world["mine"]])


@pytest.fixture
def staff(client, staff_user):
    client.force_login(staff_user)
    return client


@pytest.fixture(params=["superuser", "staff"])
def actor(request, world, admin_client, admin_user, staff, staff_user):
    """Each action is tried as a superuser and as a staff member of the lead's client."""
    if request.param == "superuser":
        return admin_client, admin_user
    return staff, staff_user


# --- list actions ------------------------------------------------------------------------------------


def test_pause_resume_and_stop_from_the_list(actor, world):
    http, user = actor
    lead = world["my_lead"]

    paused = act(http, "journey_pause", [lead])
    assert state_of(lead) == "paused"
    assert f"Paused {lead}: 6 unsent step(s) cancelled." in messages_of(paused)

    resumed = act(http, "journey_resume", [lead])
    assert state_of(lead) == "active"
    assert f"Resumed {lead}: 6 step(s) planned." in messages_of(resumed)

    stopped = act(http, "journey_stop", [lead])
    assert state_of(lead) == "stopped" and Lead.objects.get(pk=lead.pk).status == "closed"
    assert any(message.startswith(f"Stopped {lead}") for message in messages_of(stopped))

    recorded = JourneyEvent.objects.filter(lead=lead).order_by("at", "pk")
    assert [(event.action, event.by) for event in recorded] == [
        ("paused", user),
        ("resumed", user),
        ("stopped", user),
    ]


def test_a_list_action_reports_each_lead_it_could_not_change(admin_client, world):
    lead, never = world["my_lead"], LeadFactory(client=world["mine"])

    response = act(admin_client, "journey_pause", [lead, never])

    found = messages_of(response)
    assert f"Paused {lead}: 6 unsent step(s) cancelled." in found
    assert any(m.startswith(f"Pause: not done for {never}") and "re-enrol" in m for m in found)
    assert state_of(lead) == "paused"


def test_reenroll_from_the_list_asks_for_the_sequence_first(actor, world):
    http, user = actor
    lead = world["my_lead"]
    actions.stop(lead)

    asked = act(http, "journey_reenroll", [lead])

    page = asked.content.decode()
    assert asked.status_code == 200 and "Re-enrol" in page and str(lead) in page
    assert 'name="channels"' in page and 'name="apply"' in page
    assert Enrollment.objects.filter(lead=lead).count() == 1

    refused = act(http, "journey_reenroll", [lead], apply="1", source="channels", channels="email>fax")
    assert "Give channels like email&gt;linkedin&gt;sms" in refused.content.decode()
    assert Enrollment.objects.filter(lead=lead).count() == 1

    done = act(http, "journey_reenroll", [lead], apply="1", source="channels", channels="sms > email", note="again")
    assert any(m.startswith(f"Re-enrolled {lead}: 2 step(s) planned") for m in messages_of(done))
    new = Enrollment.objects.filter(lead=lead).order_by("-started_at", "-pk").first()
    assert (new.state, new.planned_sequence) == ("active", "sms>email")
    event = JourneyEvent.objects.get(lead=lead, action="reenrolled")
    assert (event.by, event.reason, event.note) == (user, "chosen_sequence", "again")


def test_reenroll_from_the_list_on_the_clients_sequence(admin_client, world):
    lead = world["my_lead"]
    actions.stop(lead)
    act(admin_client, "journey_reenroll", [lead], apply="1", source="client")
    assert state_of(lead) == "active"
    assert JourneyEvent.objects.get(lead=lead, action="reenrolled").reason == "client_sequence"


def test_undo_do_not_contact_from_the_list_asks_for_the_reason_and_records_who(actor, world):
    http, user = actor
    lead = world["my_lead"]
    actions.set_do_not_contact(lead)

    asked = act(http, "journey_undo_do_not_contact", [lead])
    assert 'name="reason"' in asked.content.decode()

    blank = act(http, "journey_undo_do_not_contact", [lead], apply="1", reason="")
    assert "This field is required" in blank.content.decode()
    assert Lead.objects.get(pk=lead.pk).do_not_contact

    done = act(http, "journey_undo_do_not_contact", [lead], apply="1", reason="asked to hear from us")
    assert any("may be contacted again" in m and "not re-enrolled" in m for m in messages_of(done))
    assert not Lead.objects.get(pk=lead.pk).do_not_contact
    event = JourneyEvent.objects.get(lead=lead, action="do_not_contact_undone")
    assert (event.by, event.reason) == (user, "asked to hear from us")
    assert not ScheduledTouch.objects.filter(lead=lead, status="planned").exists()


def test_mark_do_not_contact_records_who_did_it(admin_client, admin_user, world):
    lead = world["my_lead"]
    response = act(admin_client, "mark_do_not_contact", [lead])
    assert "Marked 1 lead(s) do-not-contact; cancelled 6 planned touch(es)." in messages_of(response)
    event = JourneyEvent.objects.get(lead=lead)
    assert (event.action, event.by) == ("do_not_contact_set", admin_user)
    assert state_of(lead) == "opted_out"


# --- a lead's page -----------------------------------------------------------------------------------


def test_the_lead_page_offers_the_actions_that_apply(admin_client, world):
    lead = world["my_lead"]

    def buttons():
        page = admin_client.get(change_url(lead)).content.decode()
        return {slug for slug in SLUGS if f'href="{journey_url(lead, slug)}"' in page}

    assert buttons() == {"pause", "stop"}
    actions.pause(lead)
    assert buttons() == {"resume", "stop"}
    actions.set_do_not_contact(lead)
    assert buttons() == {"reenroll", "undo-do-not-contact"}


def test_pause_from_the_lead_page_with_its_form(actor, world):
    http, user = actor
    lead = world["my_lead"]

    form = http.get(journey_url(lead, "pause"))
    assert form.status_code == 200 and 'name="until"' in form.content.decode()

    response = http.post(journey_url(lead, "pause"), {"until": "2099-01-05T09:30", "note": "on leave"}, follow=True)

    assert response.redirect_chain[-1][0] == change_url(lead)
    enrollment = Enrollment.objects.get(lead=lead)
    assert enrollment.state == "paused" and enrollment.resume_at.year == 2099
    event = JourneyEvent.objects.get(lead=lead)
    assert (event.action, event.by, event.note) == ("paused", user, "on leave")
    assert f"Paused {lead}: 6 unsent step(s) cancelled." in messages_of(response)


def test_the_resume_time_typed_is_on_the_lead_s_clock(actor, world):
    http, _ = actor
    lead = world["my_lead"]
    Lead.objects.filter(pk=lead.pk).update(timezone="Australia/Sydney")

    form = http.get(journey_url(lead, "pause")).content.decode()
    assert "On the lead&#x27;s clock" in form or "On the lead's clock" in form
    http.post(journey_url(lead, "pause"), {"until": "2099-01-05T09:30", "note": ""})

    resume_at = Enrollment.objects.get(lead=lead).resume_at.astimezone(zoneinfo.ZoneInfo("Australia/Sydney"))
    assert (resume_at.year, resume_at.month, resume_at.day, resume_at.hour, resume_at.minute) == (2099, 1, 5, 9, 30)


def test_resume_stop_reenroll_and_undo_from_the_lead_page(actor, world):
    http, user = actor
    lead = world["my_lead"]
    actions.pause(lead)

    http.post(journey_url(lead, "resume"), {"note": ""})
    assert state_of(lead) == "active"
    http.post(journey_url(lead, "stop"), {"note": "client asked"})
    assert state_of(lead) == "stopped"
    http.post(journey_url(lead, "reenroll"), {"source": "channels", "channels": "email"})
    assert state_of(lead) == "active" and Enrollment.objects.filter(lead=lead).count() == 2
    actions.set_do_not_contact(lead)
    http.post(journey_url(lead, "undo-do-not-contact"), {"reason": "consent on file"})
    assert not Lead.objects.get(pk=lead.pk).do_not_contact

    assert [event.action for event in JourneyEvent.objects.filter(lead=lead, by=user).order_by("at", "pk")] == [
        "resumed",
        "stopped",
        "reenrolled",
        "do_not_contact_undone",
    ]


def test_a_refused_action_on_the_lead_page_says_why(admin_client, world):
    lead = world["my_lead"]
    response = admin_client.post(journey_url(lead, "resume"), {}, follow=True)
    assert response.redirect_chain[-1][0] == change_url(lead)
    assert any(m.startswith(f"Resume: not done for {lead}") and "not paused" in m for m in messages_of(response))
    assert state_of(lead) == "active" and not JourneyEvent.objects.exists()


def test_undo_do_not_contact_page_needs_a_reason(admin_client, world):
    lead = world["my_lead"]
    actions.set_do_not_contact(lead)
    response = admin_client.post(journey_url(lead, "undo-do-not-contact"), {"reason": "  "})
    assert response.status_code == 200 and "This field is required" in response.content.decode()
    assert Lead.objects.get(pk=lead.pk).do_not_contact


def test_an_unknown_journey_action_is_not_found(admin_client, world):
    assert admin_client.get(journey_url(world["my_lead"], "teleport")).status_code == 404


# --- who may act on which lead -----------------------------------------------------------------------


def test_a_staff_member_cannot_act_on_another_clients_lead(staff, world):
    theirs, mine = world["their_lead"], world["my_lead"]

    act(staff, "journey_pause", [theirs, mine])
    assert (state_of(theirs), state_of(mine)) == ("active", "paused")

    assert staff.get(journey_url(theirs, "stop")).status_code == 404
    assert staff.post(journey_url(theirs, "stop"), {"note": ""}).status_code == 404
    act(staff, "journey_stop", [theirs])
    assert state_of(theirs) == "active"
    assert not JourneyEvent.objects.filter(lead=theirs).exists()


def test_a_staff_member_who_may_only_view_leads_cannot_act(client, world):
    viewer = StaffUserFactory(clients=[world["mine"]], permissions=["view_lead", "view_enrollment"])
    client.force_login(viewer)
    lead = world["my_lead"]

    assert client.post(journey_url(lead, "pause"), {}).status_code == 403
    act(client, "journey_pause", [lead])
    assert state_of(lead) == "active"
    page = client.get(change_url(lead)).content.decode()
    assert f'href="{journey_url(lead, "pause")}"' not in page


# --- what the lead's page shows ----------------------------------------------------------------------


def test_the_lead_page_lists_enrollments_with_the_text_each_step_sent(admin_client, admin_user):
    lead = LeadFactory(status="in_sequence", touch_count=1)
    old = EnrollmentFactory(
        lead=lead, state="finished", ended_at="2026-01-10T10:00:00Z", end_reason="sequence_complete"
    )
    sent = ActivityFactory(
        lead=lead,
        sequence_id=old.sequence_id,
        content_snapshot={"subject": "Quick question, Pat", "body": "Hi Pat, open to a short chat next week?"},
    )
    ScheduledTouchFactory(lead=lead, enrollment=old, sequence_id=old.sequence_id, status="sent", activity=sent)
    ScheduledTouchFactory(
        lead=lead, enrollment=old, sequence_id=old.sequence_id, touch_number=2, status="cancelled", reason="paused"
    )
    actions.reenroll(lead, by=admin_user, sequence=["sms"], note="second round")

    page = admin_client.get(change_url(lead)).content.decode()

    assert "Enrollments and history" in page
    assert "Quick question, Pat" in page and "Hi Pat, open to a short chat next week?" in page
    assert "sequence_complete" in page and "Finished (every step done, no reply)" in page
    assert page.count('class="outreach-card journey-enrollment"') == 2
    assert "reenrolled" in page and "second round" in page and admin_user.username in page


def test_the_add_page_still_works(admin_client):
    response = admin_client.get(reverse("admin:outreach_lead_add"))
    assert response.status_code == 200 and "Not enrolled yet." in response.content.decode()


# --- the Enrollment and JourneyEvent pages -----------------------------------------------------------


@pytest.mark.parametrize("model", ["enrollment", "journeyevent"])
def test_enrollment_and_event_pages_show_only_the_members_clients(staff, world, model):
    for lead in (world["my_lead"], world["their_lead"]):
        actions.pause(lead)
    mine = {"enrollment": Enrollment, "journeyevent": JourneyEvent}[model].objects.get(lead=world["my_lead"])
    theirs = {"enrollment": Enrollment, "journeyevent": JourneyEvent}[model].objects.get(lead=world["their_lead"])

    listed = staff.get(reverse(f"admin:outreach_{model}_changelist"))
    assert {row.pk for row in listed.context["cl"].result_list} == {mine.pk}
    assert "Rival Legal" not in listed.content.decode()
    assert staff.get(reverse(f"admin:outreach_{model}_change", args=[mine.pk])).status_code == 200
    assert staff.get(reverse(f"admin:outreach_{model}_change", args=[theirs.pk])).status_code == 404
    assert staff.get(reverse(f"admin:outreach_{model}_add")).status_code == 403


def test_enrollments_filter_by_state_and_client(admin_client, world):
    actions.pause(world["my_lead"])
    url = reverse("admin:outreach_enrollment_changelist")
    paused = admin_client.get(url, {"state": "paused"}).context["cl"].result_list
    assert [row.lead_id for row in paused] == [world["my_lead"].pk]
    theirs = admin_client.get(url, {"client__id__exact": world["theirs"].pk}).context["cl"].result_list
    assert [row.lead_id for row in theirs] == [world["their_lead"].pk]


def test_the_enrollment_page_lists_its_steps(admin_client, world):
    enrollment = Enrollment.objects.get(lead=world["my_lead"])
    page = admin_client.get(reverse("admin:outreach_enrollment_change", args=[enrollment.pk])).content.decode()
    assert page.count('class="journey-step status-planned"') == 6
