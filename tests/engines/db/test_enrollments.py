"""Finishing the active enrollments with no live step, in one statement, on both databases."""

from datetime import UTC, datetime

import pytest

from engines.db.enrollments import finish_without_live_steps
from outreach.models import Enrollment
from outreach.models.choices import LIVE_TOUCH_STATUSES
from tests.factories import EnrollmentFactory, ScheduledTouchFactory

pytestmark = pytest.mark.django_db

AT = datetime(2026, 3, 4, 9, 0, tzinfo=UTC)


def finish(lead_ids):
    return finish_without_live_steps(
        lead_ids,
        at=AT,
        live_statuses=[status.value for status in LIVE_TOUCH_STATUSES],
        active="active",
        finished="finished",
        reason="sequence_complete",
    )


@pytest.mark.parametrize("status", ["blocked", "failed", "cancelled"])
def test_an_active_enrollment_whose_steps_are_all_done_finishes_and_its_lead_is_returned(status):
    done = ScheduledTouchFactory(status=status)
    assert finish([done.lead_id]) == [done.lead_id]
    enrollment = Enrollment.objects.get(pk=done.enrollment_id)
    assert (enrollment.state, enrollment.end_reason, enrollment.ended_at) == ("finished", "sequence_complete", AT)


@pytest.mark.parametrize("status", [status.value for status in LIVE_TOUCH_STATUSES])
def test_a_step_still_live_keeps_its_enrollment_active(status):
    live = ScheduledTouchFactory(status=status)
    ScheduledTouchFactory(
        lead_id=live.lead_id, client_id=live.client_id, sequence_id=live.sequence_id, touch_number=2, status="blocked"
    )
    assert finish([live.lead_id]) == []
    assert Enrollment.objects.get(pk=live.enrollment_id).state == "active"


def test_only_the_leads_asked_and_only_active_enrollments_change():
    asked, other = ScheduledTouchFactory(status="blocked"), ScheduledTouchFactory(status="blocked")
    paused = EnrollmentFactory(state="paused")
    assert finish([asked.lead_id, paused.lead_id]) == [asked.lead_id]
    assert Enrollment.objects.get(pk=other.enrollment_id).state == "active"
    assert Enrollment.objects.get(pk=paused.pk).state == "paused"


def test_no_leads_no_query(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert finish([]) == []
