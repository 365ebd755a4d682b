"""A re-plan replaces what has not gone out and continues after what has."""

import zoneinfo
from datetime import UTC, datetime, timedelta

import pytest

from engines.exceptions import NotPlannable
from engines.services.planning.allocator import DEFAULT_SEQUENCE, allocate_lead, allocate_leads
from outreach.models import Enrollment, ScheduledTouch
from tests.factories import ActivityFactory, ClientFactory, ConversionPatternFactory, LeadFactory, how_patterns

SYDNEY = zoneinfo.ZoneInfo("Australia/Sydney")
MONDAY = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)


def send(touch):
    touch.status, touch.activity = "sent", ActivityFactory(lead=touch.lead, client=touch.client)
    touch.save()


def mid_sequence_lead(sent=2, client=None):
    """A lead planned on Monday 2 March whose first `sent` touches went out."""
    lead = LeadFactory(client=client) if client else LeadFactory()
    first = allocate_lead(lead, now=MONDAY)
    for touch in ScheduledTouch.objects.filter(lead=lead, touch_number__lte=sent):
        send(touch)
    return lead, first


def new_how(client, sequence):
    ConversionPatternFactory(
        client=client,
        pattern_type="how",
        patterns=how_patterns(
            best_first_channel=None,
            winning_sequences=[{"sequence": sequence, "conversion_rate": 0.2, "sample_size": 80}],
        ),
        computed_at=MONDAY,
        valid_until=MONDAY + timedelta(days=60),
    )


@pytest.mark.django_db
def test_a_replan_continues_after_the_touches_that_went_out():
    lead, first = mid_sequence_lead(sent=2)
    new_how(lead.client, ["linkedin", "email", "sms", "email", "email"])
    later = MONDAY + timedelta(days=4)  # Friday 6 March; touch 2 went on Thursday 5 March, 10:00

    result = allocate_lead(lead, now=later, replan=True)

    assert result["sequence"] == [
        {"touch_number": 3, "channel": "sms"},
        {"touch_number": 4, "channel": "email"},
        {"touch_number": 5, "channel": "email"},
    ]
    third = datetime.fromisoformat(result["scheduled_touches"][0]["scheduled_at"]).astimezone(SYDNEY)
    # touch_2_to_3 is 3 days after Thursday 10:00: Sunday, so the next preferred day, Tuesday.
    assert third == datetime(2026, 3, 10, 10, tzinfo=SYDNEY)
    assert result["planned_sequence"] == "linkedin>email>sms>email>email"
    # One enrollment: its sent steps stay, its unsent ones are cancelled and planned again with their numbers.
    assert result["sequence_id"] == first["sequence_id"]
    steps = ScheduledTouch.objects.filter(lead=lead, sequence_id=first["sequence_id"])
    assert list(steps.exclude(status="planned").order_by("touch_number").values_list("status", flat=True)) == [
        "sent",
        "sent",
        *["cancelled"] * 4,
    ]
    live = ScheduledTouch.objects.filter(lead=lead, status="planned")
    assert list(live.order_by("touch_number").values_list("touch_number", flat=True)) == [3, 4, 5]
    assert Enrollment.objects.get(lead=lead).touches.count() == 9


@pytest.mark.django_db
def test_a_lead_that_has_not_been_contacted_yet_gets_the_whole_new_plan():
    lead = LeadFactory()
    allocate_lead(lead, now=MONDAY)
    result = allocate_lead(lead, now=MONDAY + timedelta(days=1), replan=True)
    assert [touch["touch_number"] for touch in result["sequence"]] == list(range(1, len(DEFAULT_SEQUENCE) + 1))


@pytest.mark.django_db
def test_a_new_plan_no_longer_than_what_was_sent_leaves_the_running_one():
    lead, first = mid_sequence_lead(sent=3)
    new_how(lead.client, ["email", "sms"])
    with pytest.raises(NotPlannable) as refused:
        allocate_lead(lead, now=MONDAY + timedelta(days=9), replan=True)
    assert refused.value.reason == "sequence_complete"
    planned = ScheduledTouch.objects.filter(lead=lead, status="planned")
    assert {str(s) for s in planned.values_list("sequence_id", flat=True)} == {first["sequence_id"]}
    assert planned.count() == 3


@pytest.mark.django_db
def test_a_bulk_replan_continues_each_running_sequence_where_it_is():
    client = ClientFactory()
    fresh = LeadFactory(client=client)
    allocate_lead(fresh, now=MONDAY)
    running, _ = mid_sequence_lead(sent=1, client=client)
    later = MONDAY + timedelta(days=2)

    counts = allocate_leads(client.leads.all(), now=later, replan=True)

    assert counts["allocated"] == 2
    numbers = {
        lead.pk: list(
            ScheduledTouch.objects.filter(lead=lead, status="planned")
            .order_by("touch_number")
            .values_list("touch_number", flat=True)
        )
        for lead in (fresh, running)
    }
    assert numbers == {fresh.pk: [1, 2, 3, 4, 5, 6], running.pk: [2, 3, 4, 5, 6]}
