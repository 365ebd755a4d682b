"""Migration 0010 rewrites the stop reasons stored in their old spellings to the one StopReason each is now, and
then keeps an enrollment's end reason inside StopReason (enrollment_end_reason_valid).

Rows are written with the historical models of 0009, the migration runs, and its result is read with the
historical models of 0010. The database is migrated back to the latest state at the end, whatever happens.
"""

import uuid
from datetime import UTC, datetime

import pytest
from django.db import IntegrityError, transaction

from outreach.models import StopReason
from tests.outreach.migration_support import migrate, migrated_to

BEFORE = [("outreach", "0009_enrollments")]
AFTER = [("outreach", "0010_stop_reasons")]
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def historical():
    """The database at 0009 (its apps given); back to the latest migrations afterwards."""
    with migrated_to(BEFORE) as apps:
        yield apps


class OldWorld:
    """Writes rows as the product did before StopReason, with the historical models of 0009."""

    def __init__(self, apps):
        self.Lead = apps.get_model("outreach", "Lead")
        self.Enrollment = apps.get_model("outreach", "Enrollment")
        self.Touch = apps.get_model("outreach", "ScheduledTouch")
        self.Task = apps.get_model("outreach", "ManualTask")
        self.Event = apps.get_model("outreach", "JourneyEvent")
        self.client = apps.get_model("outreach", "Client").objects.create(
            name="Migrated", sending_email="hello@migrated.example.com"
        )
        self.serial = 0

    def enrolled(self, state="active", end_reason=""):
        """A lead with one enrollment in `state`, ended with `end_reason` unless open."""
        self.serial += 1
        lead = self.Lead.objects.create(client=self.client, email=f"lead{self.serial}@example.com")
        enrollment = self.Enrollment.objects.create(
            client=self.client,
            lead=lead,
            sequence_id=uuid.uuid4(),
            state=state,
            ended_at=None if state in ("active", "paused") else T0,
            end_reason=end_reason,
        )
        return lead, enrollment

    def touch(self, enrollment, number, *, status="cancelled", reason="", channel="email"):
        return self.Touch.objects.create(
            client=self.client, lead=enrollment.lead, enrollment=enrollment, sequence_id=enrollment.sequence_id,
            touch_number=number, channel=channel, scheduled_at=T0, status=status, reason=reason,
        )  # fmt: skip

    def task(self, lead, *, status, outcome, touch=None):
        return self.Task.objects.create(
            client=self.client, lead=lead, scheduled_touch=touch, kind="call", message="Script", status=status,
            outcome=outcome, closed_at=T0,
        )  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_old_spellings_become_the_one_stop_reason_each(historical):
    old = OldWorld(historical)
    _, booked = old.enrolled("converted", "lead_converted")
    booked_touch = old.touch(booked, 2, reason="lead_converted")
    _, unsubscribed = old.enrolled("opted_out", "opted_out_email")
    lead, texting = old.enrolled()
    stopped_sms = old.touch(texting, 2, reason="opted_out_sms", channel="sms")
    blocked_sms = old.touch(texting, 3, status="blocked", reason="opted_out_sms", channel="sms")
    wrong = old.touch(texting, 4, reason="wrong_number", channel="voice")
    no_calls = old.touch(texting, 5, reason="do_not_call", channel="voice")
    linkedin = old.touch(texting, 6, reason="opted_out_linkedin", channel="linkedin")
    skipped = old.task(lead, touch=no_calls, status="skipped", outcome="do_not_call")
    done = old.task(lead, status="done", outcome="wrong_number")  # the call's own outcome
    # Reasons that were right already, and those that are not stops, are left as they are.
    replied_touch = old.touch(texting, 7, reason="lead_replied")
    quiet = old.touch(texting, 8, status="planned", reason="quiet_hours")
    skipped_by_hand = old.touch(texting, 9, reason="task_skipped: no time")
    resume_failed = old.Event.objects.create(
        client=old.client, lead=booked.lead, enrollment=booked, action="resume_failed", reason="lead_converted"
    )
    person = old.Event.objects.create(
        client=old.client, lead=booked.lead, enrollment=booked, action="opted_out", reason="wrong_number"
    )
    # A person's own words given to a stop became the end reason; its journey event keeps them.
    _, by_person = old.enrolled("stopped", "client_request")
    _, finished = old.enrolled("finished", "sequence_complete")

    apps = migrate(AFTER)

    Touch = apps.get_model("outreach", "ScheduledTouch")
    Enrollment = apps.get_model("outreach", "Enrollment")
    Task = apps.get_model("outreach", "ManualTask")
    Event = apps.get_model("outreach", "JourneyEvent")

    def reason(touch):
        return Touch.objects.get(pk=touch.pk).reason

    def ended(enrollment):
        return Enrollment.objects.get(pk=enrollment.pk).end_reason

    assert (ended(booked), reason(booked_touch)) == ("meeting_booked", "meeting_booked")
    assert ended(unsubscribed) == "unsubscribed"
    assert [reason(t) for t in (stopped_sms, blocked_sms, wrong, no_calls, linkedin)] == [
        "sms_opted_out", "sms_opted_out", "phone_unusable", "voice_opted_out", "linkedin_opted_out",
    ]  # fmt: skip
    assert Task.objects.get(pk=skipped.pk).outcome == "voice_opted_out"
    assert Task.objects.get(pk=done.pk).outcome == "wrong_number"
    assert [reason(t) for t in (replied_touch, quiet, skipped_by_hand)] == [
        "lead_replied", "quiet_hours", "task_skipped: no time",
    ]  # fmt: skip
    assert Event.objects.get(pk=resume_failed.pk).reason == "meeting_booked"
    assert Event.objects.get(pk=person.pk).reason == "wrong_number"
    assert (ended(by_person), ended(finished), ended(texting)) == ("stopped_by_person", "sequence_complete", "")
    assert set(Enrollment.objects.values_list("end_reason", flat=True)) <= {"", *StopReason.values}


@pytest.mark.django_db(transaction=True)
def test_an_end_reason_outside_stop_reason_is_refused_after_it(historical):
    apps = migrate(AFTER)
    old = OldWorld(apps)
    old.enrolled("stopped", StopReason.STOPPED)
    with pytest.raises(IntegrityError), transaction.atomic():
        old.enrolled("stopped", "client_request")
