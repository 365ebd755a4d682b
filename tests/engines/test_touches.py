import uuid

import pytest
from django.utils import timezone

from engines.exceptions import InvalidTouch, SendBlocked
from engines.services.sending.recording import check_reachable, record_touch, touch_context
from outreach.models import Activity, Lead
from tests.factories import ClientFactory, LeadFactory, ScheduledTouchFactory


@pytest.mark.parametrize(
    "touch_number, sequence_id, expected",
    [
        (1, None, (1, None)),
        (7, "1b4e28ba-2fa1-11d2-883f-0016d3cca427", (7, uuid.UUID("1b4e28ba-2fa1-11d2-883f-0016d3cca427"))),
        (2, uuid.UUID(int=5), (2, uuid.UUID(int=5))),
    ],
)
def test_touch_context_gives_the_column_values(touch_number, sequence_id, expected):
    assert touch_context(touch_number, sequence_id) == expected


@pytest.mark.parametrize(
    "touch_number, sequence_id",
    [(0, None), (-1, None), (True, None), (2.0, None), (40000, None), (1, "seq-1"), (1, 12)],
)
def test_touch_context_refuses_what_the_database_would(touch_number, sequence_id):
    with pytest.raises(InvalidTouch):
        touch_context(touch_number, sequence_id)


@pytest.mark.django_db
def test_an_unsaved_or_deleted_lead_cannot_be_touched():
    with pytest.raises(InvalidTouch):
        check_reachable(LeadFactory.build(), "email")
    lead = LeadFactory()
    Lead.objects.filter(pk=lead.pk).delete()
    with pytest.raises(SendBlocked) as raised:
        check_reachable(lead, "email")
    assert raised.value.reason == "lead_deleted"


def record(touch, **kwargs):
    return record_touch(
        touch.lead,
        touch.client,
        action="email_sent",
        channel="email",
        content_snapshot={},
        metadata={},
        at=timezone.now(),
        touch_number=touch.touch_number,
        sequence_id=touch.sequence_id,
        touch=touch,
        **kwargs,
    )


@pytest.mark.django_db
@pytest.mark.parametrize("status", ["sending", "waiting", "review"])
def test_record_touch_marks_the_touch_sent_with_its_activity(status):
    touch = ScheduledTouchFactory(status=status, last_error="timeout", reason="x")

    activity = record(touch)

    touch.refresh_from_db()
    assert (touch.status, touch.activity_id, touch.last_error, touch.reason) == ("sent", activity.pk, "", "")


@pytest.mark.django_db
@pytest.mark.parametrize("status", ["planned", "cancelled", "blocked", "failed"])
def test_a_touch_not_in_flight_is_not_marked_sent_and_no_activity_is_kept(status):
    touch = ScheduledTouchFactory(status=status)

    with pytest.raises(InvalidTouch):
        record(touch)

    assert not Activity.objects.exists()
    assert Lead.objects.get(pk=touch.lead_id).touch_count == 0
    touch.refresh_from_db()
    assert touch.status == status


@pytest.mark.django_db
def test_check_reachable_with_a_client_refuses_a_lead_of_another_client():
    lead = LeadFactory()
    check_reachable(lead, "email", lead.client)
    with pytest.raises(SendBlocked) as raised:
        check_reachable(lead, "email", ClientFactory())
    assert raised.value.reason == "lead_of_another_client"
