"""The company-level stop: a booking or a reply from one person pauses their colleagues' active enrollments."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from engines.rules.email_domains import PUBLIC_MAIL_DOMAINS, email_domain
from engines.services.journey import actions
from engines.services.journey.colleagues import colleagues_of, pause_colleagues
from engines.services.outcomes import events
from engines.services.planning.allocator import allocate_lead
from engines.services.sending.voice import complete_call
from outreach.models import Activity, Enrollment, JourneyEvent, ManualTask, ScheduledTouch, StopReason
from tests.factories import ActivityFactory, ClientFactory, LeadFactory, ManualTaskFactory, StaffUserFactory

pytestmark = pytest.mark.django_db

MONDAY = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)


def enrolled(client, *, email, company="Acme Pty Ltd", sent=1):
    """A lead of `client` planned on Monday 2 March whose first `sent` steps went out."""
    lead = LeadFactory(client=client, email=email, company_name=company, status="in_sequence")
    allocate_lead(lead, now=MONDAY)
    for touch in ScheduledTouch.objects.filter(lead=lead, touch_number__lte=sent):
        touch.status = "sent"
        touch.activity = ActivityFactory(
            lead=lead, client=client, sequence_id=touch.sequence_id, touch_number=touch.touch_number
        )
        touch.save()
    return lead


def state_of(lead):
    return Enrollment.objects.get(lead=lead).state


def book(lead, event_id="booking-1"):
    return events.record_booking(lead, source="calcom", event_id=event_id, at=timezone.now())


def reply(lead, event_id="reply-1"):
    answered = Activity.objects.filter(lead=lead, action="email_sent").first()
    return events.record_reply(
        lead, channel="email", provider="postmark", event_id=event_id, at=timezone.now(), answers=answered, metadata={}
    )


def unsent(lead):
    return ScheduledTouch.objects.filter(lead=lead, status__in=("planned", "waiting"))


def test_a_booking_pauses_the_colleagues_at_the_same_email_domain():
    client = ClientFactory()
    booker = enrolled(client, email="ana@acme.com")
    colleague = enrolled(client, email="Ben.Ortiz@ACME.com", company="Acme (Sydney office)")
    elsewhere = enrolled(client, email="cleo@other.com")
    planned = set(unsent(colleague).values_list("pk", flat=True))
    assert planned

    book(booker)

    assert state_of(booker) == "converted"
    assert state_of(colleague) == "paused"
    assert state_of(elsewhere) == "active"
    cancelled = ScheduledTouch.objects.filter(pk__in=planned)
    assert set(cancelled.values_list("status", "reason")) == {("cancelled", StopReason.COLLEAGUE_CONVERTED)}
    assert ScheduledTouch.objects.filter(lead=colleague, status="sent").count() == 1  # what went out stays
    [event] = JourneyEvent.objects.filter(lead=colleague)
    assert (event.action, event.reason, event.by) == ("paused", "colleague_converted", None)
    assert event.enrollment == Enrollment.objects.get(lead=colleague)
    assert str(booker) in event.note and f"lead {booker.pk}" in event.note
    colleague.refresh_from_db()
    assert colleague.status == "in_sequence"  # paused, not ended: the lead is still in play
    assert not JourneyEvent.objects.filter(lead=elsewhere).exists()


def test_a_reply_pauses_the_colleagues_with_its_own_reason():
    client = ClientFactory()
    replier = enrolled(client, email="ana@acme.com")
    colleague = enrolled(client, email="ben@acme.com")

    reply(replier)

    assert state_of(replier) == "replied"
    assert state_of(colleague) == "paused"
    assert set(ScheduledTouch.objects.filter(lead=colleague, status="cancelled").values_list("reason", flat=True)) == {
        "colleague_replied"
    }
    assert JourneyEvent.objects.get(lead=colleague).reason == "colleague_replied"


def test_a_paused_colleagues_open_manual_task_is_skipped():
    client = ClientFactory()
    booker = enrolled(client, email="ana@acme.com")
    colleague = enrolled(client, email="ben@acme.com")
    touch = unsent(colleague).first()
    ScheduledTouch.objects.filter(pk=touch.pk).update(status="waiting")
    task = ManualTaskFactory(lead=colleague, client=client, scheduled_touch=touch)

    book(booker)

    task = ManualTask.objects.get(pk=task.pk)
    assert (task.status, task.outcome) == ("skipped", "colleague_converted")


def test_a_public_mail_domain_falls_back_to_the_company_name():
    client = ClientFactory()
    booker = enrolled(client, email="ana.lopez@gmail.com", company="  Acme Pty Ltd ")
    by_name = enrolled(client, email="ben@acme.com.au", company="ACME pty ltd")
    same_provider = enrolled(client, email="cleo@gmail.com", company="Other Co")
    no_company = enrolled(client, email="dan@gmail.com", company="")

    assert pause_colleagues(booker, reason=StopReason.COLLEAGUE_CONVERTED) == 1

    assert state_of(by_name) == "paused"
    assert state_of(same_provider) == "active"
    assert state_of(no_company) == "active"


def test_a_company_domain_does_not_match_on_the_company_name():
    client = ClientFactory()
    booker = enrolled(client, email="ana@acme.com", company="Acme")
    namesake = enrolled(client, email="ben@acme-consulting.com", company="Acme")

    book(booker)

    assert state_of(namesake) == "active"


def test_a_lead_at_a_public_domain_without_a_company_name_has_no_colleagues():
    client = ClientFactory()
    booker = enrolled(client, email="ana@gmail.com", company=" ")
    other = enrolled(client, email="ben@gmail.com", company=" ")

    book(booker)

    assert state_of(other) == "active"
    assert not colleagues_of(booker).exists()


def test_the_leads_of_other_clients_are_untouched():
    client, other_client = ClientFactory(), ClientFactory()
    booker = enrolled(client, email="ana@acme.com")
    same_domain_elsewhere = enrolled(other_client, email="ben@acme.com")

    book(booker)

    assert state_of(same_domain_elsewhere) == "active"
    assert not JourneyEvent.objects.exists()


def test_nothing_pauses_when_the_client_turned_it_off():
    client = ClientFactory(pause_colleagues_on_answer=False)
    booker = enrolled(client, email="ana@acme.com")
    replier = enrolled(client, email="zoe@acme.com")
    colleague = enrolled(client, email="ben@acme.com")

    book(booker)
    reply(replier)

    assert state_of(colleague) == "active"
    assert unsent(colleague).exists()
    assert not JourneyEvent.objects.exists()


def test_a_replayed_booking_or_reply_does_not_pause_again():
    client = ClientFactory()
    booker = enrolled(client, email="ana@acme.com")
    replier = enrolled(client, email="zoe@acme.com")
    colleague = enrolled(client, email="ben@acme.com")
    book(booker)
    actions.resume(colleague)  # a person resumes the colleague

    book(booker)  # the same event id, delivered again
    assert state_of(colleague) == "active"
    assert JourneyEvent.objects.filter(lead=colleague, action="paused").count() == 1

    reply(replier)  # a reply pauses once
    reply(replier)
    assert state_of(colleague) == "paused"
    assert JourneyEvent.objects.filter(lead=colleague, action="paused").count() == 2


def test_leads_without_an_active_enrollment_are_untouched():
    client = ClientFactory()
    booker = enrolled(client, email="ana@acme.com")
    never_enrolled = LeadFactory(client=client, email="ben@acme.com")
    finished = enrolled(client, email="cleo@acme.com")
    Enrollment.objects.filter(lead=finished).update(state="finished", ended_at=timezone.now())
    already_paused = enrolled(client, email="dan@acme.com")
    Enrollment.objects.filter(lead=already_paused).update(state="paused")
    replied = enrolled(client, email="eve@acme.com")
    reply(replied)
    events_before = JourneyEvent.objects.count()

    assert pause_colleagues(booker, reason=StopReason.COLLEAGUE_CONVERTED) == 0

    assert not Enrollment.objects.filter(lead=never_enrolled).exists()
    assert state_of(finished) == "finished"
    assert state_of(already_paused) == "paused"
    assert state_of(replied) == "replied"
    assert JourneyEvent.objects.count() == events_before


def test_a_person_resumes_a_paused_colleague_after_what_went_out():
    client = ClientFactory()
    booker = enrolled(client, email="ana@acme.com")
    colleague = enrolled(client, email="ben@acme.com", sent=2)
    book(booker)
    assert state_of(colleague) == "paused" and not unsent(colleague).exists()
    user = StaffUserFactory()

    change = actions.resume(colleague, by=user, now=MONDAY + timedelta(days=10), note="they are separate teams")

    assert state_of(colleague) == "active" and change.planned > 0
    enrollment = Enrollment.objects.get(lead=colleague)
    numbers = sorted(unsent(colleague).values_list("touch_number", flat=True))
    assert numbers[0] == 3  # continues after the two steps that went out, in the same enrollment
    assert set(unsent(colleague).values_list("enrollment_id", flat=True)) == {enrollment.pk}
    assert list(JourneyEvent.objects.filter(lead=colleague).order_by("pk").values_list("action", "by_id")) == [
        ("paused", None),
        ("resumed", user.pk),
    ]
    colleague.refresh_from_db()
    assert colleague.status == "in_sequence"


@pytest.mark.parametrize(
    ("email", "domain"),
    [("Ana@Acme.COM", "acme.com"), ("  ben@x.io ", "x.io"), ("", ""), ("no-at-sign", ""), ("@acme.com", "")],
)
def test_email_domain(email, domain):
    assert email_domain(email) == domain


def test_the_big_public_mail_providers_are_known():
    assert {"gmail.com", "outlook.com", "hotmail.com", "yahoo.com", "icloud.com"} <= PUBLIC_MAIL_DOMAINS


def test_a_meeting_booked_on_a_call_pauses_the_colleagues_too():
    client = ClientFactory()
    caller = enrolled(client, email="ana@acme.com")
    colleague = enrolled(client, email="ben@acme.com")

    complete_call(caller, client, script_content="Hello", outcome="meeting_booked", duration_seconds=120)

    assert state_of(caller) == "converted"
    assert state_of(colleague) == "paused"
    assert JourneyEvent.objects.get(lead=colleague).reason == "colleague_converted"
