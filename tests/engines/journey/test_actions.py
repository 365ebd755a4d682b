"""The journey's actions: pause, resume, stop, re-enrol, do-not-contact and its undo, opt-out and opt-in; each
refused change, each recorded event, and the lead's status agreeing with its enrollment."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.utils import timezone

from engines.exceptions import EngineError, JourneyError, NotPlannable
from engines.providers.sms import RecordingSmsProvider
from engines.services.journey import actions
from engines.services.planning.allocator import allocate_lead, reenroll_lead
from engines.services.sending.dispatcher import dispatch_due_touches
from outreach.models import Enrollment, JourneyEvent, Lead, ScheduledTouch
from outreach.models.choices import OPEN_ENROLLMENT_STATES
from tests.factories import (
    ActivityFactory,
    ClientFactory,
    EnrollmentFactory,
    LeadFactory,
    MessageTemplateFactory,
    ScheduledTouchFactory,
)

pytestmark = pytest.mark.django_db

SYDNEY = ZoneInfo("Australia/Sydney")
# Wednesday 4 March 2026, 10:30 in Sydney: a working day, inside Australian contact hours.
NOW = datetime(2026, 3, 4, 10, 30, tzinfo=SYDNEY)


@pytest.fixture
def person(django_user_model):
    return django_user_model.objects.create_user("sam", password="pw", is_staff=True)


def enrolled(**lead_fields):
    """A lead with an active enrollment planned by the allocator (six steps of the default sequence)."""
    lead = LeadFactory(**lead_fields)
    allocate_lead(lead)
    return Lead.objects.get(pk=lead.pk)


def enrollment(lead):
    return Enrollment.objects.filter(lead=lead).order_by("-started_at", "-pk").first()


def steps(lead, *statuses):
    touches = ScheduledTouch.objects.filter(lead=lead).order_by("touch_number", "pk")
    return list(touches.filter(status__in=statuses) if statuses else touches)


def events(lead):
    return list(JourneyEvent.objects.filter(lead=lead).order_by("at", "pk").values_list("action", "reason"))


SENT = {"email": "email_sent", "sms": "sms_sent", "linkedin": "linkedin_sent", "voice": "voice_completed"}


def send_first_step(lead):
    """Record step 1 of the lead's enrollment as sent, as the dispatcher would."""
    first = steps(lead, "planned")[0]
    activity = ActivityFactory(
        lead=lead, channel=first.channel, action=SENT[first.channel], sequence_id=first.sequence_id
    )
    ScheduledTouch.objects.filter(pk=first.pk).update(status="sent", activity=activity)
    Lead.objects.filter(pk=lead.pk).update(status="in_sequence", touch_count=1)
    return first


def assert_status_agrees(lead):
    """An open enrollment means a lead in play (new or in sequence); a closed lead has none."""
    lead = Lead.objects.get(pk=lead.pk)
    open_ = Enrollment.objects.filter(lead=lead, state__in=OPEN_ENROLLMENT_STATES)
    assert open_.count() <= 1
    if open_.exists():
        assert lead.status in ("new", "in_sequence")
    if lead.status == "closed":
        assert not open_.exists()


# --- pause -------------------------------------------------------------------------------------------


def test_pause_cancels_the_unsent_steps_and_records_who_and_why(person):
    lead = enrolled()
    until = timezone.now() + timedelta(days=7)

    change = actions.pause(lead, by=person, reason="out_of_office", until=until, note="back on the 12th")

    paused = enrollment(lead)
    assert (paused.state, paused.resume_at, paused.ended_at) == ("paused", until, None)
    assert change.cancelled == 6 and change.state == "paused"
    assert {(t.status, t.reason) for t in steps(lead)} == {("cancelled", "paused")}
    event = JourneyEvent.objects.get(lead=lead)
    assert (event.action, event.reason, event.by, event.note, event.enrollment) == (
        "paused",
        "out_of_office",
        person,
        "back on the 12th",
        paused,
    )
    assert Lead.objects.get(pk=lead.pk).status == "new"
    assert_status_agrees(lead)


def test_pause_keeps_the_steps_that_went_out():
    lead = enrolled()
    sent = send_first_step(lead)

    actions.pause(lead)

    assert ScheduledTouch.objects.get(pk=sent.pk).status == "sent"
    assert len(steps(lead, "cancelled")) == 5
    assert Lead.objects.get(pk=lead.pk).status == "in_sequence"


def test_pause_needs_an_active_enrollment():
    with pytest.raises(JourneyError) as never:
        actions.pause(LeadFactory())
    assert never.value.reason == "no_active_enrollment" and "re-enrol" in str(never.value)

    lead = enrolled()
    actions.pause(lead)
    with pytest.raises(JourneyError) as twice:
        actions.pause(lead)
    assert twice.value.reason == "no_active_enrollment" and "resume it first" in str(twice.value)
    assert isinstance(twice.value, EngineError)
    assert events(lead) == [("paused", "paused_by_person")]


def test_pause_refuses_a_resume_time_in_the_past_or_without_a_zone():
    lead = enrolled()
    for until in (timezone.now() - timedelta(minutes=1), datetime(2030, 1, 1, 9, 0)):
        with pytest.raises(JourneyError) as refused:
            actions.pause(lead, until=until)
        assert refused.value.reason == "invalid_resume_time"
    assert enrollment(lead).state == "active" and not events(lead)


# --- resume ------------------------------------------------------------------------------------------


def test_resume_plans_the_remaining_steps_numbered_after_those_sent(person):
    lead = enrolled()
    first = send_first_step(lead)
    actions.pause(lead)

    change = actions.resume(lead, by=person, note="client said go")

    resumed = enrollment(lead)
    assert resumed.state == "active" and resumed.resume_at is None
    planned = steps(lead, "planned")
    assert [t.touch_number for t in planned] == [2, 3, 4, 5, 6]
    assert {t.enrollment_id for t in planned} == {resumed.pk} and change.planned == 5
    assert all(t.scheduled_at > first.scheduled_at for t in planned)
    assert Enrollment.objects.filter(lead=lead).count() == 1
    assert events(lead) == [("paused", "paused_by_person"), ("resumed", "resumed_by_person")]
    assert JourneyEvent.objects.get(lead=lead, action="resumed").by == person
    assert Lead.objects.get(pk=lead.pk).status == "in_sequence"
    assert_status_agrees(lead)


def test_resume_refuses_a_lead_that_may_not_be_contacted_and_leaves_it_paused():
    lead = enrolled()
    actions.pause(lead)
    # Written behind the journey's back (a bulk update fires no receiver), as an import or a script might.
    Lead.objects.filter(pk=lead.pk).update(do_not_contact=True)

    with pytest.raises(JourneyError) as refused:
        actions.resume(Lead.objects.get(pk=lead.pk))

    assert refused.value.reason == "do_not_contact" and "stays paused" in str(refused.value)
    assert enrollment(lead).state == "paused"
    assert not steps(lead, "planned")
    assert events(lead) == [("paused", "paused_by_person")]


def test_resume_needs_a_paused_enrollment():
    lead = enrolled()
    with pytest.raises(JourneyError) as active:
        actions.resume(lead)
    assert active.value.reason == "not_paused" and "active, not paused" in str(active.value)
    with pytest.raises(JourneyError) as never:
        actions.resume(LeadFactory())
    assert never.value.reason == "not_paused"


def test_resume_after_every_step_went_out_finishes_the_enrollment():
    lead = enrolled()
    # Every step was on its way to a provider when the pause came; each was recorded sent since.
    ScheduledTouch.objects.filter(lead=lead).update(status="sending")
    assert actions.pause(lead).cancelled == 0
    for step in steps(lead):
        activity = ActivityFactory(
            lead=lead, channel=step.channel, action=SENT[step.channel], sequence_id=step.sequence_id
        )
        ScheduledTouch.objects.filter(pk=step.pk).update(status="sent", activity=activity)
    Lead.objects.filter(pk=lead.pk).update(status="in_sequence", touch_count=6)

    change = actions.resume(lead)

    assert change.state == "finished" and change.planned == 0
    assert enrollment(lead).state == "finished"
    assert Lead.objects.get(pk=lead.pk).status == "finished"


def test_resume_due_resumes_the_enrollments_whose_time_has_come():
    soon, later = enrolled(), enrolled()
    at = timezone.now() + timedelta(days=2)
    actions.pause(soon, until=at)
    actions.pause(later, until=at + timedelta(days=5))
    by_hand = enrolled()
    actions.pause(by_hand)

    assert actions.resume_due(at - timedelta(minutes=1)) == 0
    assert actions.resume_due(at + timedelta(minutes=1)) == 1

    assert [enrollment(lead).state for lead in (soon, later, by_hand)] == ["active", "paused", "paused"]
    assert steps(soon, "planned") and events(soon)[-1] == ("resumed", "resume_time_reached")
    assert min(t.scheduled_at for t in steps(soon, "planned")) >= at + timedelta(minutes=1)


def test_resume_due_leaves_a_lead_that_may_not_be_contacted_to_a_person():
    lead = enrolled()
    at = timezone.now() + timedelta(days=1)
    actions.pause(lead, until=at)
    Lead.objects.filter(pk=lead.pk).update(is_unsubscribed=True)

    assert actions.resume_due(at) == 0

    paused = enrollment(lead)
    assert (paused.state, paused.resume_at) == ("paused", None)
    assert events(lead)[-1] == ("resume_failed", "unsubscribed")
    # Not tried again on the next run.
    assert actions.resume_due(at + timedelta(hours=1)) == 0
    assert len(events(lead)) == 2


# --- stop --------------------------------------------------------------------------------------------


def test_stop_ends_the_enrollment_and_closes_the_lead_without_do_not_contact(person):
    lead = enrolled()
    send_first_step(lead)

    change = actions.stop(lead, by=person, note="wrong person")

    stopped = enrollment(lead)
    assert (stopped.state, stopped.end_reason) == ("stopped", "stopped_by_person") and stopped.ended_at
    assert change.cancelled == 5 and change.state == "stopped"
    assert {(t.status, t.reason) for t in steps(lead, "cancelled")} == {("cancelled", "stopped_by_person")}
    lead = Lead.objects.get(pk=lead.pk)
    assert lead.status == "closed" and not lead.do_not_contact
    assert events(lead) == [("stopped", "stopped_by_person")]
    assert_status_agrees(lead)


def test_stop_ends_a_paused_enrollment_too():
    lead = enrolled()
    actions.pause(lead)
    actions.stop(lead, reason="client_request")
    assert (enrollment(lead).state, enrollment(lead).end_reason) == ("stopped", "stopped_by_person")
    assert events(lead)[-1] == ("stopped", "client_request")
    assert Lead.objects.get(pk=lead.pk).status == "closed"


def test_stop_of_a_new_lead_not_yet_planned_closes_it():
    lead = LeadFactory()
    change = actions.stop(lead)
    assert change.state == "" and Lead.objects.get(pk=lead.pk).status == "closed"
    assert JourneyEvent.objects.get(lead=lead).enrollment is None


def test_a_person_stopping_a_lead_that_replied_closes_it():
    """Not interested, wrong person: the conversation is over, and the lead no longer waits for anyone."""
    lead = LeadFactory(status="replied")
    EnrollmentFactory(lead=lead, state="replied", ended_at=timezone.now())
    actions.stop(lead, reason="not_interested")
    assert Lead.objects.get(pk=lead.pk).status == "closed"
    assert events(lead) == [("stopped", "not_interested")]


@pytest.mark.parametrize("status", ["converted", "closed"])
def test_stop_has_nothing_to_stop_once_the_lead_converted_or_closed(status):
    lead = LeadFactory(status=status)
    EnrollmentFactory(lead=lead, state="replied", ended_at=timezone.now())
    with pytest.raises(JourneyError) as refused:
        actions.stop(lead)
    assert refused.value.reason == "nothing_to_stop"
    assert Lead.objects.get(pk=lead.pk).status == status and not events(lead)


# --- re-enrol ----------------------------------------------------------------------------------------


def test_reenroll_after_a_stop_starts_a_new_enrollment(person):
    lead = enrolled()
    actions.stop(lead)

    change = actions.reenroll(lead, by=person, note="second try")

    first, second = Enrollment.objects.filter(lead=lead).order_by("started_at", "pk")
    assert (first.state, second.state) == ("stopped", "active")
    assert change.event.enrollment == second and change.planned == len(steps(lead, "planned")) > 0
    assert {t.enrollment_id for t in steps(lead, "planned")} == {second.pk}
    assert Lead.objects.get(pk=lead.pk).status == "new" and lead.status == "new"
    assert events(lead)[-1] == ("reenrolled", "client_sequence")
    assert_status_agrees(lead)


def test_reenroll_reads_the_lead_as_locked_not_as_the_caller_read_it():
    lead = enrolled()
    actions.stop(lead)
    stale = Lead.objects.get(pk=lead.pk)
    Lead.objects.filter(pk=lead.pk).update(do_not_contact=True)  # committed after `stale` was read

    with pytest.raises(NotPlannable) as refused:
        reenroll_lead(stale)

    assert refused.value.reason == "do_not_contact"
    assert not Enrollment.objects.filter(lead=lead, state="active").exists()


def test_reenroll_on_a_chosen_sequence():
    lead = enrolled()
    send_first_step(lead)
    actions.stop(lead)

    actions.reenroll(lead, sequence="sms > Email")

    new = enrollment(lead)
    assert new.planned_sequence == "sms>email"
    assert [(t.touch_number, t.channel) for t in steps(lead, "planned")] == [(1, "sms"), (2, "email")]
    assert Lead.objects.get(pk=lead.pk).status == "in_sequence"
    assert events(lead)[-1] == ("reenrolled", "chosen_sequence")


@pytest.mark.parametrize(
    ("setup", "sequence", "reason"),
    [
        ("enrolled", None, "already_enrolled"),
        ("do_not_contact", None, "do_not_contact"),
        ("stopped", ["fax"], "invalid_sequence"),
        ("stopped", "", "invalid_sequence"),
    ],
)
def test_reenroll_refusals(setup, sequence, reason):
    lead = enrolled()
    if setup == "do_not_contact":
        actions.set_do_not_contact(lead)
    elif setup == "stopped":
        actions.stop(lead)
    before = Enrollment.objects.filter(lead=lead).count(), events(lead)

    with pytest.raises(JourneyError) as refused:
        actions.reenroll(lead, sequence=sequence)

    assert refused.value.reason == reason
    assert (Enrollment.objects.filter(lead=lead).count(), events(lead)) == before


# --- do-not-contact ----------------------------------------------------------------------------------


def test_set_do_not_contact_cancels_and_ends_the_enrollment(person):
    lead = enrolled()

    change = actions.set_do_not_contact(lead, by=person, note="asked on the phone")

    assert change.cancelled == 6 and change.state == "opted_out"
    assert Lead.objects.get(pk=lead.pk).do_not_contact and lead.do_not_contact
    assert {(t.status, t.reason) for t in steps(lead)} == {("cancelled", "do_not_contact")}
    assert enrollment(lead).state == "opted_out"
    event = JourneyEvent.objects.get(lead=lead)
    assert (event.action, event.by, event.note) == ("do_not_contact_set", person, "asked on the phone")
    with pytest.raises(JourneyError) as twice:
        actions.set_do_not_contact(lead)
    assert twice.value.reason == "already_do_not_contact"


def test_undo_do_not_contact_needs_a_reason_and_does_not_re_enrol(person):
    lead = enrolled()
    actions.set_do_not_contact(lead)

    for blank in ("", "   "):
        with pytest.raises(JourneyError) as refused:
            actions.undo_do_not_contact(lead, by=person, reason=blank)
        assert refused.value.reason == "reason_required"
    assert Lead.objects.get(pk=lead.pk).do_not_contact

    actions.undo_do_not_contact(lead, by=person, reason="  consent given by email  ")

    assert not Lead.objects.get(pk=lead.pk).do_not_contact
    event = JourneyEvent.objects.get(lead=lead, action="do_not_contact_undone")
    assert (event.reason, event.by) == ("consent given by email", person)
    assert not steps(lead, "planned") and Enrollment.objects.filter(lead=lead).count() == 1
    assert enrollment(lead).state == "opted_out"
    # Re-enrolling is the person's next, separate step.
    actions.reenroll(lead)
    assert enrollment(lead).state == "active"


def test_undo_do_not_contact_of_a_lead_that_is_not():
    with pytest.raises(JourneyError) as refused:
        actions.undo_do_not_contact(LeadFactory(), by=None, reason="consent")
    assert refused.value.reason == "not_do_not_contact"


# --- opt-out and opt-in per channel ------------------------------------------------------------------


def test_opt_out_cancels_that_channels_steps_only(person):
    lead = enrolled()

    change = actions.opt_out(lead, "email", by=person, reason="asked by phone")

    assert change.cancelled == 3 and change.state == "active"
    assert {t.reason for t in steps(lead, "cancelled")} == {"email_opted_out"}
    assert {t.channel for t in steps(lead, "planned")} == {"linkedin", "sms", "voice"}
    lead = Lead.objects.get(pk=lead.pk)
    assert lead.email_opted_out and not lead.is_unsubscribed
    assert events(lead) == [("opted_out", "asked by phone")]


def test_opt_out_of_the_last_channel_left_finishes_the_enrollment():
    lead = LeadFactory()
    ScheduledTouchFactory(lead=lead, channel="sms")
    actions.opt_out(lead, "sms", reason="STOP by phone")
    assert enrollment(lead).state == "finished"
    assert Lead.objects.get(pk=lead.pk).status == "finished"


def test_opt_in_lifts_the_flag_and_records_it(person):
    lead = LeadFactory(sms_opted_out=True)

    actions.opt_in(lead, "sms", by=person, reason="texted START")

    assert not Lead.objects.get(pk=lead.pk).sms_opted_out
    assert events(lead) == [("opted_in", "texted START")]
    with pytest.raises(JourneyError) as again:
        actions.opt_in(lead, "sms", reason="again")
    assert again.value.reason == "not_opted_out"


@pytest.mark.parametrize(
    ("call", "reason"),
    [
        (lambda lead: actions.opt_out(lead, "fax", reason="x"), "unknown_channel"),
        (lambda lead: actions.opt_in(lead, "pigeon", reason="x"), "unknown_channel"),
        (lambda lead: actions.opt_out(lead, "email", reason=" "), "reason_required"),
        (lambda lead: actions.opt_out(lead, "voice", reason="again"), "already_opted_out"),
    ],
)
def test_opt_out_and_in_refusals(call, reason):
    lead = LeadFactory(voice_opted_out=True)
    with pytest.raises(JourneyError) as refused:
        call(lead)
    assert refused.value.reason == reason and not events(lead)


# --- nothing goes out while paused ---------------------------------------------------------------------


@pytest.fixture
def providers(settings):
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    settings.SMS_PROVIDER = "engines.providers.sms.RecordingSmsProvider"
    mail.outbox = []
    RecordingSmsProvider.outbox.clear()
    return settings


def due_email(client=None):
    client = client or ClientFactory()
    MessageTemplateFactory(client=client, channel="email", touch_number=1, subject="Hi {first_name}")
    lead = LeadFactory(client=client)
    return ScheduledTouchFactory(lead=lead, client=client, channel="email", scheduled_at=NOW - timedelta(hours=2))


def test_a_paused_enrollment_never_sends(providers):
    touch = due_email()
    actions.pause(touch.lead)

    counts = dispatch_due_touches(now=NOW)

    assert counts["sent"] == 0 and mail.outbox == []
    assert ScheduledTouch.objects.get(pk=touch.pk).status == "cancelled"


def test_a_step_left_planned_on_a_paused_enrollment_is_blocked_at_send_time(providers):
    touch = due_email()
    # As if the pause had committed while the step was already on its way to the dispatcher.
    Enrollment.objects.filter(pk=touch.enrollment_id).update(state="paused")

    dispatch_due_touches(now=NOW)

    assert mail.outbox == []
    touch = ScheduledTouch.objects.get(pk=touch.pk)
    assert touch.status != "sent" and touch.activity_id is None


def test_a_resumed_enrollment_sends_again(providers):
    touch = due_email()
    actions.pause(touch.lead)
    actions.resume(touch.lead, now=NOW - timedelta(days=1))

    due = steps(touch.lead, "planned")[0]
    ScheduledTouch.objects.filter(pk=due.pk).update(scheduled_at=NOW - timedelta(minutes=5))
    counts = dispatch_due_touches(now=NOW)

    assert counts["sent"] == 1 and len(mail.outbox) == 1


def test_a_dispatcher_run_resumes_a_pause_whose_time_came_and_sends_its_due_step():
    lead = enrolled()
    at = timezone.now() + timedelta(days=2)
    actions.pause(lead, until=at)

    dispatch_due_touches(now=at - timedelta(minutes=1))
    assert enrollment(lead).state == "paused"

    dispatch_due_touches(now=at + timedelta(minutes=1))
    assert enrollment(lead).state == "active" and steps(lead, "planned", "sending", "sent", "waiting")
    assert events(lead)[-1] == ("resumed", "resume_time_reached")


def test_a_failing_resume_does_not_stop_the_dispatcher_run(monkeypatch, caplog):
    def broken(now):
        raise RuntimeError("database went away")

    monkeypatch.setattr(actions, "resume_due", broken)
    assert dispatch_due_touches(now=timezone.now())["sent"] == 0  # the run goes on (nothing due here)
    assert "were not resumed" in caplog.text
