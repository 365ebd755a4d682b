"""An enrollment is active while a step may still go out: the ways its last step can stop going out end it.

Found by the journey's state machine (test_journey_invariants.py, "an active enrollment has a step left").
"""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from engines.services.journey.enrollments import status_disagreements
from engines.services.manual_tasks import skip_task
from engines.services.planning.allocator import allocate_lead
from engines.services.sending.dispatcher import dispatch_due_touches
from outreach.models import Enrollment, Lead, ManualTask, ScheduledTouch
from tests.factories import EnrollmentFactory, LeadFactory, MessageTemplateFactory

pytestmark = pytest.mark.django_db

# Monday 2 March 2026, 09:00 in Sydney.
START = datetime(2026, 3, 2, 9, 0, tzinfo=ZoneInfo("Australia/Sydney"))


@pytest.fixture(autouse=True)
def providers(settings):
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    settings.SMS_PROVIDER = "engines.providers.sms.RecordingSmsProvider"


def planned(sequence):
    """A lead planned on `sequence` on Monday, with a template for each of its channels."""
    lead = LeadFactory()
    for channel in set(sequence):
        MessageTemplateFactory(client=lead.client, channel=channel, touch_number=1)
    allocate_lead(lead, sequence_override=sequence, now=START)
    return lead


def steps(lead):
    return list(ScheduledTouch.objects.filter(lead=lead).order_by("touch_number").values_list("channel", "status"))


def test_skipping_the_task_of_the_last_step_finishes_the_enrollment():
    lead = planned(["email", "linkedin"])
    dispatch_due_touches(now=START + timedelta(days=30), threads=1)
    assert steps(lead) == [("email", "sent"), ("linkedin", "waiting")]

    skip_task(ManualTask.objects.get(lead=lead), reason="no LinkedIn profile", now=START + timedelta(days=30))

    enrollment = Enrollment.objects.get(lead=lead)
    assert (enrollment.state, enrollment.end_reason) == ("finished", "sequence_complete")
    assert Lead.objects.get(pk=lead.pk).status == "finished"


def test_skipping_a_task_with_steps_left_keeps_the_enrollment_active():
    lead = planned(["linkedin", "email"])
    dispatch_due_touches(now=START + timedelta(days=1, hours=2), threads=1)
    assert steps(lead) == [("linkedin", "waiting"), ("email", "planned")]

    skip_task(ManualTask.objects.get(lead=lead), reason="no LinkedIn profile")

    assert Enrollment.objects.get(lead=lead).state == "active"


def test_a_last_step_blocked_at_send_time_finishes_the_enrollment():
    lead = planned(["email", "email"])
    dispatch_due_touches(now=START + timedelta(days=1, hours=6), threads=1)
    Lead.objects.filter(pk=lead.pk).update(first_name="")  # the templates say "Hi {first_name}"

    dispatch_due_touches(now=START + timedelta(days=30), threads=1)

    assert steps(lead) == [("email", "sent"), ("email", "blocked")]
    assert Enrollment.objects.get(lead=lead).state == "finished"


@pytest.mark.parametrize(
    ("status", "states", "disagrees"),
    [
        ("in_sequence", ["active"], False),
        ("in_sequence", ["finished", "paused"], False),
        ("new", [], False),
        ("in_sequence", ["finished"], True),  # shown in a sequence with none open
        ("finished", ["finished"], False),
        ("finished", ["finished", "stopped"], True),  # its newest did not finish
        ("replied", ["replied"], False),
        ("replied", ["active"], True),  # answered, still being sent to
        ("closed", ["opted_out"], False),
    ],
)
def test_status_disagreements_finds_a_lead_whose_status_its_enrollments_do_not_say(status, states, disagrees):
    lead = LeadFactory()
    started = datetime(2026, 3, 2, tzinfo=ZoneInfo("UTC"))
    for day, state in enumerate(states):
        open_ = state in ("active", "paused")
        EnrollmentFactory(
            lead=lead, state=state, started_at=started + timedelta(days=day),
            ended_at=None if open_ else started + timedelta(days=day, hours=1),
        )  # fmt: skip
    Lead.objects.filter(pk=lead.pk).update(status=status)

    found = status_disagreements(Lead.objects.filter(pk=lead.pk)).exists()

    assert found is disagrees
