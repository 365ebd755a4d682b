"""Exploration only picks among what the calendar and the channels already allow."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engines.exceptions import NotPlannable
from engines.rules.compliance import (
    TIMED_CHANNELS,
    is_public_holiday,
    lead_country,
    reachable_channels,
    within_contact_hours,
)
from engines.rules.geography import lead_timezone
from engines.rules.sending_window import WINDOW_CHANNELS, sending_window
from engines.services.planning.allocator import allocate_lead
from outreach.models import ScheduledTouch
from tests.factories import ClientFactory, ConversionPatternFactory, LeadFactory, how_patterns, when_patterns

PLACES = [
    ("Australia", "NSW", "Australia/Sydney", "+61412345678"),
    ("Australia", "VIC", "Australia/Melbourne", "+61412345678"),
    ("United States", "NY", "America/New_York", "+12125551234"),
    ("United Kingdom", "", "", "+442071234567"),
    ("New Zealand", "", "Pacific/Auckland", "+6421234567"),
    ("Germany", "BY", "Europe/Berlin", "+4915112345678"),
]
FLAGS = ["email_opted_out", "sms_opted_out", "voice_opted_out", "linkedin_opted_out", "has_bounced", "phone_unusable"]
ARM = st.fixed_dictionaries({"successes": st.integers(0, 5), "trials": st.integers(5, 60)})


@st.composite
def arms(draw):
    """Evidence that tempts exploration towards weekends, public-holiday-prone days and early or late hours."""
    days = draw(st.lists(st.integers(0, 6), unique=True, max_size=7))
    hours = draw(st.lists(st.integers(0, 23), unique=True, max_size=12))
    sequences = draw(st.lists(st.lists(st.sampled_from(["email", "sms", "voice", "linkedin"]), min_size=1, max_size=7)))
    return {
        "how": {"arms": [{"sequence": s, **draw(ARM)} for s in sequences]},
        "when": {
            "day_arms": [{"day_index": d, **draw(ARM)} for d in days],
            "hour_arms": [{"hour": h, **draw(ARM)} for h in hours],
        },
    }


@pytest.mark.django_db
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    now=st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)),
    place=st.sampled_from(PLACES),
    flags=st.sets(st.sampled_from(FLAGS)),
    evidence=arms(),
    seed=st.integers(0, 2**32 - 1),
    window=st.sampled_from([(7, 19, False), (9, 17, False), (0, 24, True), (20, 24, True)]),
)
def test_an_exploring_plan_keeps_every_compliance_rule(now, place, flags, evidence, seed, window):
    start, end, weekends = window
    client = ClientFactory(
        exploration_rate=1.0, sending_window_start=start, sending_window_end=end, sends_on_weekends=weekends
    )
    for kind, data in (("how", how_patterns(**evidence["how"])), ("when", when_patterns(**evidence["when"]))):
        ConversionPatternFactory(
            client=client,
            pattern_type=kind,
            patterns=data,
            computed_at=now - timedelta(hours=1),
            valid_until=now + timedelta(days=30),
        )
    country, region, zone, phone = place
    lead = LeadFactory(
        client=client, country=country, region=region, timezone=zone, phone=phone, **dict.fromkeys(flags, True)
    )
    reachable = set(reachable_channels(lead))
    if not reachable:
        with pytest.raises(NotPlannable):
            allocate_lead(lead, now=now, rng=np.random.default_rng(seed))
        return

    result = allocate_lead(lead, now=now, rng=np.random.default_rng(seed))

    assert result["is_exploration"]
    zone, country, region = lead_timezone(lead), lead_country(lead), lead.region or None
    for touch in ScheduledTouch.objects.filter(lead=lead):
        wall = touch.scheduled_at.astimezone(zone).replace(tzinfo=None)
        assert touch.channel in reachable
        assert touch.scheduled_at > now
        assert not is_public_holiday(wall.date(), country, region)
        if touch.channel in TIMED_CHANNELS:
            assert within_contact_hours(wall, country, region)
        if touch.channel in WINDOW_CHANNELS:
            assert sending_window(client).allows(wall), "no exploration draw moves email or LinkedIn out of the window"


@pytest.mark.django_db
@pytest.mark.parametrize("field", ["do_not_contact", "is_unsubscribed"])
def test_exploration_never_plans_a_lead_who_may_not_be_contacted(field):
    lead = LeadFactory(client=ClientFactory(exploration_rate=1.0), **{field: True})
    with pytest.raises(NotPlannable):
        allocate_lead(lead, now=datetime(2026, 3, 2, tzinfo=UTC), rng=np.random.default_rng(0))
    assert not ScheduledTouch.objects.filter(lead=lead).exists()


@pytest.mark.django_db
def test_an_explored_sequence_drops_the_channels_the_lead_opted_out_of():
    client = ClientFactory(exploration_rate=1.0)
    now = datetime(2026, 3, 2, tzinfo=UTC)
    ConversionPatternFactory(
        client=client,
        pattern_type="how",
        patterns=how_patterns(arms=[{"sequence": ["sms", "sms", "voice"], "successes": 30, "trials": 40}]),
        computed_at=now - timedelta(hours=1),
        valid_until=now + timedelta(days=30),
    )
    lead = LeadFactory(client=client, sms_opted_out=True)
    channels = set()
    for seed in range(30):
        result = allocate_lead(lead, now=now, rng=np.random.default_rng(seed), replan=True)
        channels |= {touch["channel"] for touch in result["sequence"]}
    assert "sms" not in channels
    assert ScheduledTouch.objects.filter(lead=lead, planned_sequence="sms>sms>voice").exists()
