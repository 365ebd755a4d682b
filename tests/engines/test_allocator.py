import logging
import zoneinfo
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engines.exceptions import NotPlannable
from engines.rules.compliance import TIMED_CHANNELS, is_public_holiday, lead_country, within_contact_hours
from engines.rules.geography import lead_timezone
from engines.rules.sending_window import WINDOW_CHANNELS, sending_window
from engines.services.planning.allocator import (
    DEFAULT_BEST_DAYS,
    DEFAULT_BEST_HOURS,
    DEFAULT_GAPS,
    DEFAULT_SEQUENCE,
    allocate_lead,
    allocate_leads,
    build_sequence,
    leads_to_allocate,
)
from outreach.models import Enrollment, LeadStatus, ScheduledTouch
from tests.factories import (
    ActivityFactory,
    ClientFactory,
    ConversionPatternFactory,
    LeadFactory,
    ScheduledTouchFactory,
    how_patterns,
    when_patterns,
)

SYDNEY = zoneinfo.ZoneInfo("Australia/Sydney")
# Monday 2 March 2026, 11:00 in Sydney (AEDT, +11:00).
MONDAY = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)


def add_pattern(client, kind, data, now):
    return ConversionPatternFactory(
        client=client,
        pattern_type=kind,
        patterns=data,
        computed_at=now - timedelta(hours=1),
        valid_until=now + timedelta(days=30),
    )


def local_times(result, zone=SYDNEY):
    return [datetime.fromisoformat(t["scheduled_at"]).astimezone(zone) for t in result["scheduled_touches"]]


def channels(result):
    return [t["channel"] for t in result["sequence"]]


def sydney(*args):
    return datetime(*args, tzinfo=SYDNEY)


# ---------------------------------------------------------------------------
# Defaults and persistence
# ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_defaults_without_patterns_plan_the_default_sequence_on_tuesday_to_thursday_at_ten():
    lead = LeadFactory(als_score=None)

    result = allocate_lead(lead, now=MONDAY)

    assert result["lead_id"] == lead.pk
    assert result["patterns_used"] == {"when": False, "how": False}
    assert result["sequence"] == [{"touch_number": n, "channel": c} for n, c in enumerate(DEFAULT_SEQUENCE, 1)]
    # Each touch: the first Tuesday-Thursday 10:00 at least the default gap after the previous one.
    assert local_times(result) == [
        sydney(2026, 3, 3, 10),  # Tuesday
        sydney(2026, 3, 5, 10),  # + 2 days: Thursday
        sydney(2026, 3, 10, 10),  # + 3 days is Sunday: next Tuesday
        sydney(2026, 3, 17, 10),  # + 4 days is Saturday: next Tuesday
        sydney(2026, 3, 24, 10),  # + 5 days is Sunday
        sydney(2026, 3, 31, 10),  # + 7 days is Tuesday
    ]
    first = result["scheduled_touches"][0]
    assert first["scheduled_at"] == "2026-03-03T10:00:00+11:00"
    assert (first["day_of_week"], first["hour"]) == ("Tuesday", 10)

    rows = list(ScheduledTouch.objects.filter(lead=lead).order_by("touch_number"))
    assert [(r.touch_number, r.channel) for r in rows] == [(n, c) for n, c in enumerate(DEFAULT_SEQUENCE, 1)]
    assert {r.status for r in rows} == {"planned"}
    assert {str(r.sequence_id) for r in rows} == {result["sequence_id"]}
    assert {r.lead_tier for r in rows} == {"warm"}  # unscored counts as 50
    assert [r.scheduled_at for r in rows] == [t.astimezone(UTC) for t in local_times(result)]
    assert all(r.client_id == lead.client_id for r in rows)


def test_default_constants_are_the_spec_values():
    assert DEFAULT_SEQUENCE == ["email", "linkedin", "email", "sms", "voice", "email"]
    assert DEFAULT_GAPS == {
        "touch_1_to_2": 2,
        "touch_2_to_3": 3,
        "touch_3_to_4": 4,
        "touch_4_to_5": 5,
        "touch_5_to_6": 7,
    }
    assert DEFAULT_BEST_DAYS == [1, 2, 3]
    assert DEFAULT_BEST_HOURS == [10, 14, 9]


@pytest.mark.django_db
def test_a_naive_clock_is_refused():
    lead = LeadFactory()
    with pytest.raises(ValueError, match="aware"):
        allocate_lead(lead, now=datetime(2026, 3, 2, 9))
    with pytest.raises(ValueError, match="aware"):
        allocate_leads(lead.client.leads.all(), now=datetime(2026, 3, 2, 9))
    assert not ScheduledTouch.objects.exists()


@pytest.mark.django_db
def test_tier_at_allocation_is_stored_on_each_touch():
    hot = LeadFactory(als_score=85)
    cool = LeadFactory(als_score=20)
    allocate_lead(hot, now=MONDAY)
    allocate_lead(cool, now=MONDAY)
    assert set(ScheduledTouch.objects.filter(lead=hot).values_list("lead_tier", flat=True)) == {"hot"}
    assert set(ScheduledTouch.objects.filter(lead=cool).values_list("lead_tier", flat=True)) == {"cool"}


# ---------------------------------------------------------------------------
# Sequence (HOW)
# ---------------------------------------------------------------------------


def test_winning_sequence_is_truncated_to_six_touches():
    how = how_patterns(
        best_first_channel=None,
        winning_sequences=[
            {
                "sequence": ["sms", "email", "linkedin", "email", "voice", "email", "sms"],
                "conversion_rate": 0.2,
                "sample_size": 40,
            },
            {"sequence": ["voice"], "conversion_rate": 0.1, "sample_size": 40},
        ],
    )
    assert build_sequence("warm", how) == ["sms", "email", "linkedin", "email", "voice", "email"]


def test_best_first_channel_replaces_the_first_channel():
    how = how_patterns(
        best_first_channel="sms",
        winning_sequences=[
            {"sequence": ["email", "email", "linkedin", "voice"], "conversion_rate": 0.2, "sample_size": 40}
        ],
    )
    assert build_sequence("warm", how) == ["sms", "email", "linkedin", "voice"]


def test_best_first_channel_applies_to_the_default_sequence_without_winning_sequences():
    how = how_patterns(best_first_channel="linkedin", winning_sequences=[])
    assert build_sequence("warm", how) == ["linkedin", *DEFAULT_SEQUENCE[1:]]


def test_best_first_channel_the_lead_cannot_receive_keeps_the_sequence_own_first_touch():
    how = how_patterns(best_first_channel="sms", winning_sequences=[])
    assert build_sequence("warm", how, {"email", "linkedin"}) == ["email", "linkedin", "email", "email"]


def _hot_how(rate=0.2, sequence=("email", "linkedin", "email", "sms", "voice", "email")):
    return how_patterns(
        best_first_channel=None,
        winning_sequences=[{"sequence": list(sequence), "conversion_rate": 0.1, "sample_size": 30}],
        channel_effectiveness_by_tier={"hot": {"voice": {"conversion_rate": rate, "sample_size": 50}}},
    )


def test_hot_lead_gets_voice_moved_to_touch_three():
    assert build_sequence("hot", _hot_how()) == ["email", "linkedin", "voice", "email", "sms", "email"]


def test_hot_lead_gets_voice_at_touch_three_when_the_sequence_has_none():
    how = _hot_how(sequence=("email", "linkedin", "email", "sms"))
    assert build_sequence("hot", how) == ["email", "linkedin", "voice", "sms"]


@pytest.mark.parametrize(
    "tier, rate, sequence",
    [
        ("warm", 0.2, ("email", "linkedin", "email", "sms", "voice", "email")),
        ("cool", 0.9, ("email", "linkedin", "email", "sms", "voice", "email")),
        ("hot", 0.15, ("email", "linkedin", "email", "sms", "voice", "email")),  # must exceed 0.15
        ("hot", 0.2, ("email", "voice", "email", "sms", "email")),  # voice already in the first three
        ("hot", 0.2, ("email", "linkedin", "email")),  # too short, as the spec
    ],
)
def test_voice_rule_does_not_apply(tier, rate, sequence):
    assert build_sequence(tier, _hot_how(rate, sequence)) == list(sequence)


def test_voice_rule_needs_a_reachable_phone():
    reachable = {"email", "linkedin"}
    assert build_sequence("hot", _hot_how(), reachable) == ["email", "linkedin", "email", "email"]


@pytest.mark.django_db
def test_hot_lead_allocation_uses_the_how_pattern():
    lead = LeadFactory(als_score=90)
    add_pattern(lead.client, "how", _hot_how(), MONDAY)
    result = allocate_lead(lead, now=MONDAY)
    assert channels(result) == ["email", "linkedin", "voice", "email", "sms", "email"]
    assert result["patterns_used"] == {"when": False, "how": True}


@pytest.mark.django_db
def test_unscored_lead_is_warm_for_the_voice_rule():
    lead = LeadFactory(als_score=None)
    add_pattern(lead.client, "how", _hot_how(), MONDAY)
    assert channels(allocate_lead(lead, now=MONDAY)) == list(DEFAULT_SEQUENCE)


@pytest.mark.django_db
def test_invalid_how_pattern_is_ignored_with_a_log_line(caplog):
    lead = LeadFactory()
    bad = how_patterns(winning_sequences=[{"sequence": ["fax", "email"], "conversion_rate": 0.3, "sample_size": 9}])
    add_pattern(lead.client, "how", bad, MONDAY)
    with caplog.at_level(logging.WARNING, logger="engines"):
        result = allocate_lead(lead, now=MONDAY)
    assert channels(result) == list(DEFAULT_SEQUENCE)
    assert result["patterns_used"]["how"] is False
    assert "ignoring invalid how pattern" in caplog.text


@pytest.mark.django_db
def test_expired_patterns_are_not_used():
    lead = LeadFactory()
    ConversionPatternFactory(
        client=lead.client,
        pattern_type="how",
        patterns=how_patterns(best_first_channel="sms"),
        computed_at=MONDAY - timedelta(days=10),
        valid_until=MONDAY - timedelta(days=3),
    )
    result = allocate_lead(lead, now=MONDAY)
    assert result["patterns_used"]["how"] is False
    assert channels(result) == list(DEFAULT_SEQUENCE)


# ---------------------------------------------------------------------------
# Reachability
# ---------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "fields, expected",
    [
        ({"phone": ""}, ["email", "linkedin", "email", "email"]),
        ({"phone": "+61 not a number"}, ["email", "linkedin", "email", "email"]),
        ({"linkedin_url": ""}, ["email", "email", "sms", "voice", "email"]),
        ({"email": ""}, ["linkedin", "sms", "voice"]),
        ({"has_bounced": True}, ["linkedin", "sms", "voice"]),
        ({"sms_opted_out": True}, ["email", "linkedin", "email", "voice", "email"]),
        ({"voice_opted_out": True, "email_opted_out": True}, ["linkedin", "sms"]),
    ],
)
def test_unreachable_channels_are_dropped_and_touches_renumbered(fields, expected):
    lead = LeadFactory(**fields)
    result = allocate_lead(lead, now=MONDAY)
    assert result["sequence"] == [{"touch_number": n, "channel": c} for n, c in enumerate(expected, 1)]
    assert [t["touch_number"] for t in result["scheduled_touches"]] == list(range(1, len(expected) + 1))
    rows = ScheduledTouch.objects.filter(lead=lead).order_by("touch_number")
    assert list(rows.values_list("touch_number", "channel")) == list(enumerate(expected, 1))


@pytest.mark.django_db
def test_renumbered_touches_take_the_gaps_of_their_new_numbers():
    lead = LeadFactory(linkedin_url="")
    times = local_times(allocate_lead(lead, now=MONDAY))
    # Touch 2 (formerly 3) waits touch_1_to_2 = 2 days: Tuesday -> Thursday.
    assert times[:2] == [sydney(2026, 3, 3, 10), sydney(2026, 3, 5, 10)]


@pytest.mark.django_db
def test_pattern_sequence_without_any_reachable_channel_falls_back_to_the_default():
    lead = LeadFactory(phone="", linkedin_url="")
    how = how_patterns(
        best_first_channel=None,
        winning_sequences=[{"sequence": ["sms", "voice", "linkedin"], "conversion_rate": 0.3, "sample_size": 40}],
    )
    add_pattern(lead.client, "how", how, MONDAY)
    assert channels(allocate_lead(lead, now=MONDAY)) == ["email", "email", "email"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "fields, reason",
    [
        ({"do_not_contact": True}, "do_not_contact"),
        ({"is_unsubscribed": True}, "unsubscribed"),
        ({"status": "replied"}, "lead_replied"),
        ({"status": "converted"}, "meeting_booked"),
        ({"status": "closed"}, "lead_closed"),
        ({"email": "", "phone": "", "linkedin_url": ""}, "no_reachable_channel"),
        (
            {"has_bounced": True, "sms_opted_out": True, "voice_opted_out": True, "linkedin_url": ""},
            "no_reachable_channel",
        ),
    ],
)
def test_lead_that_cannot_be_contacted_raises_and_writes_nothing(fields, reason):
    lead = LeadFactory(**fields)
    earlier = ScheduledTouchFactory(lead=lead)
    with pytest.raises(NotPlannable) as blocked:
        allocate_lead(lead, now=MONDAY)
    assert blocked.value.reason == reason
    assert list(ScheduledTouch.objects.filter(lead=lead).values_list("pk", "status")) == [(earlier.pk, "planned")]


# ---------------------------------------------------------------------------
# Re-allocation
# ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_reallocation_cancels_planned_touches_instead_of_duplicating():
    lead = LeadFactory()
    first = allocate_lead(lead, now=MONDAY)
    second = allocate_lead(lead, now=MONDAY + timedelta(days=1), replan=True)

    # The re-plan keeps the lead's one enrollment (and its sequence id) and replaces its unsent steps.
    assert first["sequence_id"] == second["sequence_id"]
    assert Enrollment.objects.filter(lead=lead).count() == 1
    planned = ScheduledTouch.objects.filter(lead=lead, status="planned")
    assert sorted(planned.values_list("touch_number", flat=True)) == list(range(1, len(DEFAULT_SEQUENCE) + 1))
    assert ScheduledTouch.objects.filter(lead=lead, status="cancelled").count() == len(DEFAULT_SEQUENCE)


@pytest.mark.django_db
def test_reallocation_leaves_sent_and_sending_touches_alone():
    lead = LeadFactory()
    allocate_lead(lead, now=MONDAY)
    touches = ScheduledTouch.objects.filter(lead=lead).order_by("touch_number")
    first_plan = list(touches.values_list("pk", flat=True))
    sent, sending = touches[0], touches[1]
    sent.status, sent.activity = "sent", ActivityFactory(lead=lead, client=lead.client)
    sent.save()
    sending.status = "sending"
    sending.save()

    allocate_lead(lead, now=MONDAY + timedelta(days=1), replan=True)

    sent.refresh_from_db()
    sending.refresh_from_db()
    assert (sent.status, sending.status) == ("sent", "sending")
    others = ScheduledTouch.objects.filter(pk__in=first_plan, touch_number__gt=2)
    assert set(others.values_list("status", flat=True)) == {"cancelled"}
    replanned = ScheduledTouch.objects.filter(lead=lead, status="planned").values_list("touch_number", flat=True)
    assert min(replanned) == 3  # steps 1 and 2 went (or are going) out: never planned again


@pytest.mark.django_db
def test_allocation_of_one_lead_does_not_touch_another_leads_plan():
    lead, other = LeadFactory(), LeadFactory()
    allocate_lead(other, now=MONDAY)
    allocate_lead(lead, now=MONDAY)
    allocate_lead(lead, now=MONDAY, replan=True)
    assert set(ScheduledTouch.objects.filter(lead=other).values_list("status", flat=True)) == {"planned"}


# ---------------------------------------------------------------------------
# sequence_override
# ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_sequence_override_is_honoured_in_touch_order():
    lead = LeadFactory()
    add_pattern(lead.client, "how", how_patterns(), MONDAY)
    override = [
        {"touch_number": 2, "channel": "sms"},
        {"touch_number": 1, "channel": "voice"},
        {"touch_number": 3, "channel": "email"},
    ]
    result = allocate_lead(lead, sequence_override=override, now=MONDAY)
    assert channels(result) == ["voice", "sms", "email"]
    assert result["patterns_used"] == {"when": False, "how": False}
    assert ScheduledTouch.objects.filter(lead=lead).count() == 3


@pytest.mark.django_db
def test_sequence_override_accepts_channel_names_and_drops_unreachable_ones():
    lead = LeadFactory(phone="")
    result = allocate_lead(lead, sequence_override=["sms", "email", "voice", "linkedin"], now=MONDAY)
    assert result["sequence"] == [{"touch_number": 1, "channel": "email"}, {"touch_number": 2, "channel": "linkedin"}]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "override",
    [
        [],
        ["email", "fax"],
        [{"touch_number": 1, "channel": "pigeon"}],
        [{"touch_number": 1, "channel": "email"}, {"touch_number": 1, "channel": "sms"}],
        [{"touch_number": 1, "channel": "email"}, {"channel": "sms"}],
        [{"touch_number": 0, "channel": "email"}],
        ["email", {"touch_number": 2, "channel": "sms"}],
        "email",
    ],
)
def test_malformed_sequence_override_is_rejected_and_writes_nothing(override):
    lead = LeadFactory()
    with pytest.raises(ValueError):
        allocate_lead(lead, sequence_override=override, now=MONDAY)
    assert not ScheduledTouch.objects.filter(lead=lead).exists()


@pytest.mark.django_db
def test_sequence_override_without_a_reachable_channel_is_blocked():
    lead = LeadFactory(phone="")
    with pytest.raises(NotPlannable) as blocked:
        allocate_lead(lead, sequence_override=["sms", "voice"], now=MONDAY)
    assert blocked.value.reason == "no_reachable_channel"
    assert not ScheduledTouch.objects.filter(lead=lead).exists()


@pytest.mark.django_db
def test_long_override_uses_three_days_after_the_known_gaps():
    lead = LeadFactory()
    result = allocate_lead(lead, sequence_override=["email"] * 8, now=MONDAY)
    times = local_times(result)
    assert len(times) == 8
    assert times[7] - times[6] >= timedelta(days=3)


# ---------------------------------------------------------------------------
# Schedule (WHEN)
# ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_when_pattern_days_hours_and_gaps_are_used_best_first():
    lead = LeadFactory()
    when = when_patterns(
        # The first three as listed win, in that order: the detector lists them by the channel-adjusted effect,
        # which a raw rate does not follow (16:00 goes first although 11:00 has the higher rate).
        best_days=[
            {"day_index": 5, "conversion_rate": 0.3},
            {"day_index": 0, "conversion_rate": 0.2},
            {"day_index": 3, "conversion_rate": 0.1},
            {"day_index": 1, "conversion_rate": 0.5},
        ],
        best_hours=[
            {"hour": 16, "conversion_rate": 0.1},
            {"hour": 11, "conversion_rate": 0.2},
            {"hour": 13, "conversion_rate": 0.1},
            {"hour": 9, "conversion_rate": 0.9},
        ],
        optimal_sequence_gaps={"touch_1_to_2": 1.5, "touch_2_to_3": 1},
    )
    add_pattern(lead.client, "when", when, MONDAY)
    result = allocate_lead(lead, sequence_override=["email"] * 4, now=MONDAY)
    assert result["patterns_used"]["when"] is True
    assert local_times(result) == [
        sydney(2026, 3, 2, 16),  # Monday (preferred) 16:00, later than now (11:00)
        sydney(2026, 3, 5, 16),  # + 1.5 days = Wednesday 04:00: Thursday is preferred
        sydney(2026, 3, 7, 16),  # + 1 day = Friday: Saturday is preferred (a pattern may prefer weekends)
        sydney(2026, 3, 12, 16),  # + touch_3_to_4 from DEFAULT_GAPS (4 days) = Wednesday: Thursday
    ]
    assert [t["day_of_week"] for t in result["scheduled_touches"]] == ["Monday", "Thursday", "Saturday", "Thursday"]


@pytest.mark.django_db
def test_invalid_when_pattern_falls_back_to_defaults():
    lead = LeadFactory()
    add_pattern(lead.client, "when", when_patterns(best_hours=[{"hour": 25, "conversion_rate": 0.1}]), MONDAY)
    result = allocate_lead(lead, now=MONDAY)
    assert result["patterns_used"]["when"] is False
    assert local_times(result)[0] == sydney(2026, 3, 3, 10)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "lead_fields, timed_hour",
    [
        ({}, 11),  # Australia: 09:00-20:00 on weekdays, so 20:00 is outside
        ({"country": "United States", "timezone": "America/New_York", "phone": "+12125551234"}, 20),  # 08-21
    ],
)
def test_sms_and_voice_take_the_next_preferred_hour_when_the_best_is_outside_legal_hours(lead_fields, timed_hour):
    lead = LeadFactory(**lead_fields)
    when = when_patterns(best_hours=[{"hour": 20, "conversion_rate": 0.3}, {"hour": 11, "conversion_rate": 0.2}])
    add_pattern(lead.client, "when", when, MONDAY)
    result = allocate_lead(lead, sequence_override=["email", "sms", "voice", "linkedin"], now=MONDAY)
    hours = [t["hour"] for t in result["scheduled_touches"]]
    assert hours == [20, timed_hour, timed_hour, 20]


@pytest.mark.django_db
def test_with_no_legal_preferred_hour_sms_falls_back_to_a_legal_business_day_slot():
    lead = LeadFactory()
    when = when_patterns(best_hours=[{"hour": 6, "conversion_rate": 0.3}, {"hour": 22, "conversion_rate": 0.2}])
    add_pattern(lead.client, "when", when, MONDAY)
    result = allocate_lead(lead, sequence_override=["email", "sms"], now=MONDAY)
    email, sms = local_times(result)
    assert email == sydney(2026, 3, 3, 6)
    # Two days later is Thursday; no preferred hour is legal, so the next business day at the legal
    # hour closest to the best one (06:00 -> 09:00).
    assert sms == sydney(2026, 3, 5, 9)
    assert within_contact_hours(sms.replace(tzinfo=None), "AU")


@pytest.mark.django_db
def test_australia_day_is_skipped_for_an_australian_lead_only():
    now = datetime(2027, 1, 25, 1, 0, tzinfo=UTC)  # Monday 25 January 2027, 12:00 in Sydney
    australian = LeadFactory()
    american = LeadFactory(
        client=australian.client, country="United States", timezone="America/New_York", phone="+12125551234"
    )
    aus = allocate_lead(australian, now=now)
    usa = allocate_lead(american, now=now)
    assert local_times(aus)[0] == sydney(2027, 1, 27, 10)  # Tuesday 26th is Australia Day
    ny = zoneinfo.ZoneInfo("America/New_York")
    assert local_times(usa, ny)[0] == datetime(2027, 1, 26, 10, tzinfo=ny)


@pytest.mark.django_db
def test_state_holidays_follow_the_lead_region():
    now = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)  # Monday 2 November 2026; Tuesday is Melbourne Cup Day
    victorian = LeadFactory(region="VIC", timezone="Australia/Melbourne")
    nsw = LeadFactory(client=victorian.client, region="NSW")
    melbourne = zoneinfo.ZoneInfo("Australia/Melbourne")
    assert local_times(allocate_lead(victorian, now=now), melbourne)[0] == datetime(2026, 11, 4, 10, tzinfo=melbourne)
    assert local_times(allocate_lead(nsw, now=now))[0] == sydney(2026, 11, 3, 10)


@pytest.mark.django_db
def test_local_time_comes_from_the_phone_then_the_country_then_the_client():
    client = ClientFactory(timezone="Europe/London", country="GB")
    tokyo = LeadFactory(client=client, timezone="", country="Australia", phone="+81312345678")
    auckland = LeadFactory(client=client, timezone="", country="New Zealand", phone="")
    london = LeadFactory(client=client, timezone="", country="", phone="")
    for lead, zone in ((tokyo, "Asia/Tokyo"), (auckland, "Pacific/Auckland"), (london, "Europe/London")):
        first = datetime.fromisoformat(allocate_lead(lead, now=MONDAY)["scheduled_touches"][0]["scheduled_at"])
        local = first.astimezone(zoneinfo.ZoneInfo(zone))
        assert first.utcoffset() == local.utcoffset()
        assert (local.weekday(), local.hour) in {(1, 10), (2, 10), (3, 10)}


@pytest.mark.django_db
def test_ten_oclock_in_sydney_is_ten_oclock_on_both_sides_of_daylight_saving():
    # Sydney moves from AEST (+10) to AEDT (+11) on Sunday 4 October 2026.
    lead = LeadFactory()
    result = allocate_lead(lead, sequence_override=["email"] * 3, now=datetime(2026, 9, 28, 0, tzinfo=UTC))
    assert [t["scheduled_at"] for t in result["scheduled_touches"]] == [
        "2026-09-29T10:00:00+10:00",  # Tuesday
        "2026-10-01T10:00:00+10:00",  # Thursday
        "2026-10-06T10:00:00+11:00",  # Thursday + 3 days is Sunday: Tuesday, after the change
    ]
    assert {(t["day_of_week"], t["hour"]) for t in result["scheduled_touches"]} == {("Tuesday", 10), ("Thursday", 10)}
    rows = ScheduledTouch.objects.filter(lead=lead).order_by("touch_number")
    assert [r.scheduled_at.astimezone(UTC).hour for r in rows] == [0, 0, 23]


@pytest.mark.django_db
def test_gap_across_the_daylight_saving_change_is_counted_on_the_wall_clock():
    now = datetime(2026, 9, 30, tzinfo=UTC)
    lead = LeadFactory()
    when = when_patterns(
        best_days=[{"day_index": d, "conversion_rate": 0.1} for d in (4, 6)], optimal_sequence_gaps={"touch_1_to_2": 2}
    )
    add_pattern(lead.client, "when", when, now)
    friday, sunday = local_times(allocate_lead(lead, sequence_override=["email", "email"], now=now))
    # Friday 10:00 AEST + 2 days = Sunday 10:00 AEDT, only 47 hours later.
    assert (friday, sunday) == (sydney(2026, 10, 2, 10), sydney(2026, 10, 4, 10))
    assert sunday.astimezone(UTC) - friday.astimezone(UTC) == timedelta(hours=47)


@pytest.mark.django_db
def test_an_hour_the_clocks_skip_is_replaced_by_the_next_preferred_hour():
    now = sydney(2026, 10, 3, 12).astimezone(UTC)  # Saturday; at 02:00 on Sunday the clocks jump to 03:00
    lead = LeadFactory()
    when = when_patterns(
        best_days=[{"day_index": 6, "conversion_rate": 0.1}],
        best_hours=[{"hour": 2, "conversion_rate": 0.3}, {"hour": 10, "conversion_rate": 0.1}],
    )
    add_pattern(lead.client, "when", when, now)
    result = allocate_lead(lead, sequence_override=["email"], now=now)
    assert result["scheduled_touches"][0]["scheduled_at"] == "2026-10-04T10:00:00+11:00"


@pytest.mark.django_db
def test_a_fractional_gap_is_a_minimum_wait():
    lead = LeadFactory()
    when = when_patterns(
        best_days=[{"day_index": d, "conversion_rate": 0.1} for d in (1, 2, 3)],
        optimal_sequence_gaps={"touch_1_to_2": 1.5},
    )
    add_pattern(lead.client, "when", when, MONDAY)
    first, second = local_times(allocate_lead(lead, sequence_override=["email", "email"], now=MONDAY))
    # Tuesday 10:00 + 1.5 days = Wednesday 22:00, so Wednesday 10:00 is too early.
    assert (first, second) == (sydney(2026, 3, 3, 10), sydney(2026, 3, 5, 10))


@pytest.mark.django_db
def test_every_touch_is_after_now_even_at_the_best_hour_itself():
    lead = LeadFactory()
    now = sydney(2026, 3, 3, 10).astimezone(UTC)  # Tuesday 10:00 exactly
    assert local_times(allocate_lead(lead, now=now))[0] == sydney(2026, 3, 4, 10)


# ---------------------------------------------------------------------------
# Invariants over generated leads, patterns and clocks
# ---------------------------------------------------------------------------

PLACES = [
    ("Australia", "NSW", "Australia/Sydney", "+61412345678"),
    ("Australia", "VIC", "Australia/Melbourne", "+61412345678"),
    ("Australia", "WA", "", "+61891234567"),
    ("United States", "NY", "America/New_York", "+12125551234"),
    ("United States", "CA", "", "+13105551234"),
    ("United Kingdom", "", "", "+442071234567"),
    ("New Zealand", "", "Pacific/Auckland", "+6421234567"),
    ("Germany", "BY", "Europe/Berlin", "+4915112345678"),
]


@st.composite
def when_data(draw):
    days = draw(st.lists(st.integers(0, 6), min_size=1, max_size=5, unique=True))
    hours = draw(st.lists(st.integers(0, 23), min_size=1, max_size=5, unique=True))
    gap_touches = draw(st.lists(st.integers(1, 5), unique=True, max_size=5))
    gaps = {f"touch_{n}_to_{n + 1}": draw(st.floats(0.25, 9, allow_nan=False)) for n in gap_touches}
    # Rates falling with the position: the listed order is the order of preference.
    return when_patterns(
        best_days=[{"day_index": d, "conversion_rate": 0.5 - i * 0.05} for i, d in enumerate(days)],
        best_hours=[{"hour": h, "conversion_rate": 0.5 - i * 0.05} for i, h in enumerate(hours)],
        optimal_sequence_gaps=gaps,
    )


@st.composite
def lead_fields(draw):
    country, region, zone, phone = draw(st.sampled_from(PLACES))
    reach = draw(st.sets(st.sampled_from(["email", "phone", "linkedin"]), min_size=1))
    return {
        "country": country,
        "region": region,
        "timezone": zone,
        "phone": phone if "phone" in reach else "",
        "email": None if "email" in reach else "",  # None: the factory's sequence
        "linkedin_url": None if "linkedin" in reach else "",
        "als_score": draw(st.none() | st.integers(0, 100)),
    }


def _preferred_slot(day, hours, channel, zone, country, region, window):
    """The hour a preferred day gets: the first preferred hour that exists and is allowed for the channel."""
    for hour in hours:
        wall = datetime(day.year, day.month, day.day, hour)
        aware = wall.replace(tzinfo=zone).astimezone(UTC).astimezone(zone)
        if aware.replace(tzinfo=None) != wall:
            continue
        if channel in TIMED_CHANNELS and not within_contact_hours(wall, country, region):
            continue
        if channel in WINDOW_CHANNELS and not window.allows(wall):
            continue
        return aware
    return None


@st.composite
def sending_windows(draw):
    """A client's sending window: (start, end, sends on weekends), end after start."""
    start = draw(st.integers(0, 23))
    return start, draw(st.integers(start + 1, 24)), draw(st.booleans())


@pytest.mark.django_db
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    now=st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)),
    when=st.none() | when_data(),
    fields=lead_fields(),
    window=sending_windows(),
)
def test_schedule_invariants(now, when, fields, window):
    start, end, weekends = window
    client = ClientFactory(sending_window_start=start, sending_window_end=end, sends_on_weekends=weekends)
    if when is not None:
        add_pattern(client, "when", when, now)
    lead = LeadFactory(client=client, **{k: v for k, v in fields.items() if v is not None})

    result = allocate_lead(lead, now=now)

    zone = lead_timezone(lead)
    country, region = lead_country(lead), lead.region or None
    days = [e["day_index"] for e in when["best_days"]][:3] if when else DEFAULT_BEST_DAYS
    hours = [e["hour"] for e in when["best_hours"]][:3] if when else DEFAULT_BEST_HOURS
    gaps = {**DEFAULT_GAPS, **(when["optimal_sequence_gaps"] if when else {})}
    window = sending_window(client)
    rows = {r.touch_number: r for r in ScheduledTouch.objects.filter(lead=lead, status="planned")}
    assert sorted(rows) == [t["touch_number"] for t in result["scheduled_touches"]]
    earliest = previous = now.astimezone(zone).replace(tzinfo=None)
    for touch in result["scheduled_touches"]:
        n, channel = touch["touch_number"], touch["channel"]
        at = datetime.fromisoformat(touch["scheduled_at"])
        local = at.astimezone(zone)
        wall = local.replace(tzinfo=None)
        assert at.utcoffset() == local.utcoffset(), "ISO offset is the lead's own"
        assert rows[n].scheduled_at == at and rows[n].channel == channel
        assert (touch["day_of_week"], touch["hour"]) == (local.strftime("%A"), local.hour)
        assert at > now
        if n > 1:
            earliest = previous + timedelta(days=gaps.get(f"touch_{n - 1}_to_{n}", 3))
        assert wall >= earliest, "gap respected on the lead's wall clock"
        assert not is_public_holiday(wall.date(), country, region)
        if channel in TIMED_CHANNELS:
            assert within_contact_hours(wall, country, region)
        if channel in WINDOW_CHANNELS:
            assert window.allows(wall), "email and LinkedIn stay inside the sending window, whatever the pattern"
        preferred = local.weekday() in days and local == _preferred_slot(
            wall.date(), hours, channel, zone, country, region, window
        )
        if not preferred:
            # The business-day fallback: only when no preferred day of the next 14 offered a slot.
            assert local.weekday() < 5
            for offset in range(14):
                day = earliest.date() + timedelta(days=offset)
                if day.weekday() in days and not is_public_holiday(day, country, region):
                    slot = _preferred_slot(day, hours, channel, zone, country, region, window)
                    assert slot is None or slot.replace(tzinfo=None) < earliest or slot <= now
        previous = wall


# ---------------------------------------------------------------------------
# Bulk
# ---------------------------------------------------------------------------


def _varied_leads(client, count):
    leads = []
    for n in range(count):
        country, region, zone, phone = PLACES[n % len(PLACES)]
        leads.append(
            LeadFactory(
                client=client,
                country=country,
                region=region,
                timezone=zone,
                phone="" if n % 5 == 0 else phone,
                linkedin_url="" if n % 7 == 0 else f"https://linkedin.com/in/x{n}",
                als_score=None if n % 4 == 0 else (n * 37) % 101,
                do_not_contact=n % 11 == 3,
            )
        )
    return leads


def _plan_of(lead):
    rows = ScheduledTouch.objects.filter(lead=lead, status="planned").order_by("touch_number")
    return [(r.touch_number, r.channel, r.scheduled_at, r.lead_tier) for r in rows]


@pytest.mark.django_db
def test_bulk_allocation_matches_allocating_lead_by_lead():
    now = datetime(2026, 9, 30, 3, tzinfo=UTC)
    one, bulk = ClientFactory(), ClientFactory()
    for client in (one, bulk):
        add_pattern(client, "when", when_patterns(), now)
        add_pattern(client, "how", _hot_how(), now)
    singles, many = _varied_leads(one, 40), _varied_leads(bulk, 40)

    for lead in singles:
        try:
            allocate_lead(lead, now=now)
        except NotPlannable:
            pass
    counts = allocate_leads(bulk.leads.all(), now=now, batch_size=15)

    assert [_plan_of(lead) for lead in singles] == [_plan_of(lead) for lead in many]
    blocked = sum(lead.do_not_contact for lead in many)
    assert counts == {
        "allocated": 40 - blocked,
        "blocked": blocked,
        "cancelled": 0,
        "skipped": 0,
        "touches": ScheduledTouch.objects.filter(client=bulk).count(),
    }
    sequences = ScheduledTouch.objects.filter(client=bulk).values("lead").distinct().count()
    assert sequences == 40 - blocked


@pytest.mark.django_db
def test_bulk_reallocation_cancels_planned_touches_once_and_keeps_sent_ones():
    client = ClientFactory()
    leads = _varied_leads(client, 12)
    allocate_leads(client.leads.all(), now=MONDAY)
    sent = ScheduledTouch.objects.filter(lead=leads[1], touch_number=1).get()
    sent.status, sent.activity = "sent", ActivityFactory(lead=leads[1], client=client)
    sent.save()
    before = ScheduledTouch.objects.filter(client=client, status="planned").count()

    counts = allocate_leads(client.leads.all(), now=MONDAY + timedelta(days=2), replan=True)

    assert counts["cancelled"] == before
    assert ScheduledTouch.objects.filter(client=client, status="planned").count() == counts["touches"]
    for lead in leads:
        sequences = ScheduledTouch.objects.filter(lead=lead, status="planned").values("sequence_id").distinct()
        assert sequences.count() == (0 if lead.do_not_contact else 1)
    sent.refresh_from_db()
    assert sent.status == "sent"


@pytest.mark.django_db
def test_bulk_query_count_does_not_grow_with_the_number_of_leads():
    small, large = ClientFactory(), ClientFactory()
    for client in (small, large):
        add_pattern(client, "when", when_patterns(), MONDAY)
        add_pattern(client, "how", how_patterns(), MONDAY)
    _varied_leads(small, 3)
    _varied_leads(large, 60)

    def queries(client):
        with CaptureQueriesContext(connection) as captured:
            allocate_leads(client.leads.all(), now=MONDAY)
        # SQLite splits a bulk INSERT by its parameter limit; every other statement is per batch.
        return [q["sql"] for q in captured.captured_queries if not q["sql"].startswith("INSERT")]

    assert len(queries(large)) == len(queries(small))


@pytest.mark.django_db
def test_bulk_accepts_a_sliced_queryset_and_reports_progress():
    client = ClientFactory()
    _varied_leads(client, 9)
    done = []
    counts = allocate_leads(client.leads.order_by("pk")[:7], now=MONDAY, batch_size=3, progress=done.append)
    assert done == [3, 3, 1]
    assert counts["allocated"] + counts["blocked"] == 7


@pytest.mark.django_db
def test_leads_to_allocate_selects_unplanned_contactable_statuses():
    client = ClientFactory()
    fresh = LeadFactory(client=client)
    running = LeadFactory(client=client, status=LeadStatus.IN_SEQUENCE)
    allocate_lead(running, now=MONDAY)
    finished = LeadFactory(client=client, status=LeadStatus.IN_SEQUENCE)
    ScheduledTouchFactory(lead=finished, status="cancelled")
    replied = LeadFactory(client=client, status=LeadStatus.REPLIED)
    LeadFactory()  # another client's

    # An enrolled lead is not planned again, even when nothing is left of its plan: re-enrolment is explicit.
    assert set(leads_to_allocate(client)) == {fresh}
    assert set(leads_to_allocate(client, replan=True)) == {fresh, running, finished}
    assert replied not in set(leads_to_allocate(None, replan=True))
