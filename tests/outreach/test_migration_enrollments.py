"""Migration 0009 turns the touches that existed before enrollments into enrollments (enroll_existing_touches).

Rows are written with the historical models of 0008, the migration runs, and its result is read with the
historical models of 0009. The database is migrated back to the latest state at the end, whatever happens.
"""

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.outreach.migration_support import migrate, migrated_to

BEFORE = [("outreach", "0008_early_status")]
AFTER = [("outreach", "0009_enrollments")]
T0 = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def historical():
    """The database at 0008 (its apps given); back to the latest migrations afterwards."""
    with migrated_to(BEFORE) as apps:
        yield apps


class OldWorld:
    """Writes rows as the product did before enrollments, with the historical models of 0008."""

    def __init__(self, apps):
        self.Client = apps.get_model("outreach", "Client")
        self.Lead = apps.get_model("outreach", "Lead")
        self.Touch = apps.get_model("outreach", "ScheduledTouch")
        self.Activity = apps.get_model("outreach", "Activity")
        self.client = self.Client.objects.create(name="Migrated", sending_email="hello@migrated.example.com")
        self.serial = 0

    def lead(self, status="in_sequence"):
        self.serial += 1
        return self.Lead.objects.create(client=self.client, email=f"lead{self.serial}@example.com", status=status)

    def plan(self, lead, statuses, *, created_at, reasons=None):
        """One sequence of the lead: a touch per status (numbered from 1), made at `created_at`; its id."""
        sequence_id = uuid.uuid4()
        for number, status in enumerate(statuses, start=1):
            activity = None
            at = created_at + timedelta(days=2 * number)
            if status == "sent":
                activity = self.Activity.objects.create(
                    client=self.client, lead=lead, action="email_sent", channel="email",
                    sequence_id=sequence_id, touch_number=number, created_at=at,
                )  # fmt: skip
            touch = self.Touch.objects.create(
                client=self.client, lead=lead, sequence_id=sequence_id, touch_number=number, channel="email",
                scheduled_at=at, status=status, activity=activity, planned_sequence="email>email>email",
                reason=(reasons or {}).get(number, ""),
            )  # fmt: skip
            self.Touch.objects.filter(pk=touch.pk).update(created_at=created_at)  # auto_now_add set it to now
        return sequence_id


@pytest.mark.django_db(transaction=True)
def test_existing_touches_become_enrollments(historical):
    old = OldWorld(historical)
    partly = old.lead()
    partly_seq = old.plan(partly, ["sent", "sent", "planned", "planned"], created_at=T0)
    # Re-planned before enrollments: step 1 went out in both sequences (the old re-plan started again at 1);
    # the older one still had an unsent step (planned while the re-plan ran).
    twice = old.lead()
    twice_old = old.plan(twice, ["sent", "planned", "cancelled"], created_at=T0, reasons={3: "replanned"})
    twice_new = old.plan(twice, ["sent", "planned", "planned"], created_at=T0 + timedelta(days=5))
    # The same, as a re-plan usually left it: every unsent step of the older sequence cancelled.
    replanned = old.lead()
    replanned_old = old.plan(
        replanned, ["sent", "cancelled", "cancelled"], created_at=T0, reasons={2: "replanned", 3: "replanned"}
    )
    replanned_new = old.plan(replanned, ["sent", "planned"], created_at=T0 + timedelta(days=5))
    # A sequence that ran its course, planned again by a bulk run, then answered: the first one finished.
    again = old.lead(status="replied")
    again_first = old.plan(again, ["sent", "sent"], created_at=T0)
    again_second = old.plan(
        again, ["sent", "cancelled"], created_at=T0 + timedelta(days=9), reasons={2: "lead_replied"}
    )
    done = old.lead()
    done_seq = old.plan(done, ["sent", "sent", "sent"], created_at=T0)
    replied = old.lead(status="replied")
    replied_seq = old.plan(replied, ["sent", "cancelled"], created_at=T0, reasons={2: "lead_replied"})
    never = old.lead(status="new")

    apps = migrate(AFTER)

    Enrollment = apps.get_model("outreach", "Enrollment")
    Touch = apps.get_model("outreach", "ScheduledTouch")
    Lead = apps.get_model("outreach", "Lead")

    def enrollments(lead):
        return list(Enrollment.objects.filter(lead_id=lead.pk).order_by("started_at", "pk"))

    def statuses(enrollment):
        return list(
            Touch.objects.filter(enrollment=enrollment).order_by("touch_number").values_list("status", flat=True)
        )

    def status(lead):
        return Lead.objects.get(pk=lead.pk).status

    assert not Touch.objects.filter(enrollment__isnull=True).exists()

    [active] = enrollments(partly)
    assert (active.state, active.sequence_id, active.ended_at, active.started_at) == ("active", partly_seq, None, T0)
    assert statuses(active) == ["sent", "sent", "planned", "planned"]
    assert status(partly) == "in_sequence"

    older, newer = enrollments(twice)
    assert (older.sequence_id, newer.sequence_id) == (twice_old, twice_new)
    assert (older.state, older.end_reason) == ("stopped", "replanned") and older.ended_at is not None
    assert statuses(older) == ["sent", "cancelled", "cancelled"]
    assert Touch.objects.get(enrollment=older, touch_number=2).reason == "replanned"
    assert (newer.state, statuses(newer)) == ("active", ["sent", "planned", "planned"])
    assert status(twice) == "in_sequence"

    older, newer = enrollments(replanned)
    assert (older.sequence_id, newer.sequence_id) == (replanned_old, replanned_new)
    assert (older.state, older.end_reason) == ("stopped", "replanned")
    assert (newer.state, statuses(newer)) == ("active", ["sent", "planned"])

    first, second = enrollments(again)
    assert (first.sequence_id, first.state, first.end_reason) == (again_first, "finished", "sequence_complete")
    assert (second.sequence_id, second.state, second.end_reason) == (again_second, "replied", "lead_replied")
    assert status(again) == "replied"

    [finished] = enrollments(done)
    assert (finished.state, finished.end_reason, finished.sequence_id) == ("finished", "sequence_complete", done_seq)
    assert finished.ended_at is not None
    assert status(done) == "finished"

    [answered] = enrollments(replied)
    assert (answered.state, answered.end_reason, answered.sequence_id) == ("replied", "lead_replied", replied_seq)
    assert status(replied) == "replied"

    assert not enrollments(never) and status(never) == "new"
