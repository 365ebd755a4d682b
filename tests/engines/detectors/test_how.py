import uuid
from collections import defaultdict
from datetime import timedelta

import pytest

from engines.rules.content import build_content_snapshot
from engines.rules.pattern_checks import pattern_errors
from engines.services.learning import detect
from engines.services.learning.evidence import load_evidence
from engines.services.learning.stats import MIN_BUCKET
from engines.simulation.synthetic import PLANTED, generate_client
from outreach.models import Activity, ConversionPattern, ScheduledTouch
from tests.engines.detectors.conftest import NOW
from tests.factories import ActivityFactory, ClientFactory, LeadFactory, ScheduledTouchFactory

pytestmark = pytest.mark.django_db


def test_the_planted_sequence_and_first_channel_win(planted):
    pattern = detect("how", planted.train.client, now=NOW).pattern.patterns

    assert pattern_errors("how", pattern) == []
    assert tuple(pattern["winning_sequences"][0]["sequence"]) == PLANTED.best_sequence
    assert pattern["best_first_channel"] == PLANTED.best_first_channel
    rates = [entry["conversion_rate"] for entry in pattern["winning_sequences"]]
    assert rates == sorted(rates, reverse=True)
    assert all(entry["sample_size"] >= MIN_BUCKET for entry in pattern["winning_sequences"])


def test_a_sequence_is_its_whole_plan_even_when_it_converted_early(planted):
    """Converted sequences were cut short: counting only what was sent would file them under shorter sequences."""
    client = planted.train.client
    pattern = detect("how", client, now=NOW).pattern.patterns
    evidence = load_evidence(client, now=NOW)
    finished_leads = set(evidence.lead_ids[evidence.lead_state >= 0].tolist())
    plans = defaultdict(list)
    for _lead_id, sequence_id, channel in (
        ScheduledTouch.objects.filter(client=client, lead_id__in=finished_leads)
        .order_by("touch_number")
        .values_list("lead_id", "sequence_id", "channel")
    ):
        plans[sequence_id].append(channel)
    converted = set(client.leads.filter(status="converted").values_list("pk", flat=True))
    converted_sequences = set(
        ScheduledTouch.objects.filter(lead_id__in=converted).values_list("sequence_id", flat=True)
    )
    winner = pattern["winning_sequences"][0]

    runs = [sequence_id for sequence_id, channels in plans.items() if channels == winner["sequence"]]
    assert winner["sample_size"] == len(runs)
    assert winner["conversions"] == len(converted_sequences.intersection(runs))
    assert ScheduledTouch.objects.filter(sequence_id__in=runs, status="cancelled").exists()


def test_channel_effectiveness_is_per_tier_recorded_at_planning(planted):
    client = planted.train.client
    by_tier = detect("how", client, now=NOW).pattern.patterns["channel_effectiveness_by_tier"]
    recorded = set(ScheduledTouch.objects.filter(client=client).values_list("lead_tier", flat=True))

    assert set(by_tier) <= recorded
    assert by_tier
    for channels in by_tier.values():
        for stats in channels.values():
            assert stats["sample_size"] >= MIN_BUCKET
            assert 0 <= stats["conversion_rate"] <= 1


def test_sequences_sent_without_a_plan_use_the_channels_sent():
    client = ClientFactory()
    now = NOW
    for i in range(120):
        lead = LeadFactory(client=client)
        sequence_id = uuid.uuid4()
        channels = ("sms", "email") if i % 2 else ("email", "email")
        for number, channel in enumerate(channels, start=1):
            at = now - timedelta(days=40 - number)
            ActivityFactory(
                lead=lead,
                action=f"{channel}_sent",
                channel=channel,
                touch_number=number,
                sequence_id=sequence_id,
                created_at=at,
                content_snapshot=build_content_snapshot("Hi", lead, channel=channel, sent_at=at),
            )
        if i % 4 == 0:
            ActivityFactory(
                lead=lead,
                action="meeting_booked",
                channel="",
                touch_number=None,
                sequence_id=None,
                led_to_booking=True,
                created_at=now - timedelta(days=37),
            )

    pattern = detect("how", client, now=now).pattern.patterns

    # (sms, email) never converted: below the client's rate, it is no winner.
    assert [(entry["sequence"], entry["conversions"]) for entry in pattern["winning_sequences"]] == [
        (["email", "email"], 30)
    ]
    assert pattern["first_channel_rates"]["sms"]["sample_size"] == 60
    assert pattern["channel_effectiveness_by_tier"] == {}
    assert pattern["best_first_channel"] == "email"


def test_a_plan_with_a_tier_but_only_one_first_channel_names_no_best_first_channel():
    client = ClientFactory()
    for i in range(110):
        lead = LeadFactory(client=client)
        sequence_id = uuid.uuid4()
        at = NOW - timedelta(days=30)
        sent = ActivityFactory(
            lead=lead,
            action="email_sent",
            channel="email",
            touch_number=1,
            sequence_id=sequence_id,
            created_at=at,
            content_snapshot=build_content_snapshot("Hi", lead, sent_at=at),
        )
        ScheduledTouchFactory(
            lead=lead,
            sequence_id=sequence_id,
            touch_number=1,
            channel="email",
            status="sent",
            activity=sent,
            lead_tier="warm",
            scheduled_at=at,
        )
        ScheduledTouchFactory(
            lead=lead,
            sequence_id=sequence_id,
            touch_number=2,
            channel="voice" if i < 55 else "sms",
            status="cancelled" if i < 25 else "failed",
            lead_tier="warm",
            scheduled_at=at,
        )
        if i < 25:
            ActivityFactory(
                lead=lead,
                action="meeting_booked",
                channel="",
                touch_number=None,
                sequence_id=None,
                led_to_booking=True,
                created_at=at + timedelta(hours=5),
            )

    pattern = detect("how", client, now=NOW).pattern.patterns

    assert pattern["best_first_channel"] is None
    assert [entry["sequence"] for entry in pattern["winning_sequences"]] == [["email", "voice"]]
    assert pattern["channel_effectiveness_by_tier"]["warm"]["email"] == {
        "conversion_rate": pytest.approx(25 / 110, abs=0.01),
        "sample_size": 110,
        "bookings": 25,
    }
    assert pattern_errors("how", pattern) == []


def test_tiny_data_saves_nothing():
    client = generate_client(n_leads=40, seed=3, now=NOW).client

    result = detect("how", client, now=NOW)

    assert not result.saved
    assert "sequences" in result.reason
    assert not ConversionPattern.objects.filter(client=client).exists()
    assert Activity.objects.filter(client=client).exists()


def planned_run(client, channels, *, booked, strategy="", lead_fields=None, days=30):
    """A finished sequence: touch 1 sent, the rest of the plan cancelled after a booking or left failed."""
    lead = LeadFactory(client=client, **(lead_fields or {}))
    sequence_id = uuid.uuid4()
    at = NOW - timedelta(days=days)
    sent = ActivityFactory(
        lead=lead,
        action=f"{channels[0]}_sent",
        channel=channels[0],
        touch_number=1,
        sequence_id=sequence_id,
        created_at=at,
        content_snapshot=build_content_snapshot("Hi", lead, channel=channels[0], sent_at=at),
    )
    for number, channel in enumerate(channels, start=1):
        ScheduledTouchFactory(
            lead=lead,
            sequence_id=sequence_id,
            touch_number=number,
            channel=channel,
            status="sent" if number == 1 else ("cancelled" if booked else "failed"),
            activity=sent if number == 1 else None,
            lead_tier="warm",
            planned_sequence=strategy,
            scheduled_at=at,
        )
    if booked:
        ActivityFactory(
            lead=lead,
            action="meeting_booked",
            channel="",
            touch_number=None,
            sequence_id=None,
            led_to_booking=True,
            created_at=at + timedelta(hours=5),
        )


def test_a_plan_cut_down_by_reachability_is_no_strategy_for_leads_reachable_everywhere():
    client = ClientFactory()
    email_only = {"phone": "", "linkedin_url": ""}
    for i in range(80):
        # Leads reachable only by email booked far more often, on what was left of their plans.
        planned_run(client, ["email", "email", "email"], booked=i < 40, lead_fields=email_only)
        planned_run(
            client,
            ["email", "email", "email"],
            booked=i < 40,
            strategy="linkedin>email>sms>email",
            lead_fields=email_only,
        )
    for i in range(120):
        planned_run(client, ["linkedin", "email", "sms", "email"], booked=i < 12, strategy="linkedin>email>sms>email")
        planned_run(client, ["email", "sms", "email"], booked=i < 12, strategy="email>sms>email")

    pattern = detect("how", client, now=NOW).pattern.patterns

    assert pattern["winning_sequences"] == []
    assert pattern["best_first_channel"] is None
    assert set(pattern["no_preference"]) == {"winning_sequences", "best_first_channel"}
    assert pattern["evidence"] == {"comparable_sequences": 240, "left_out_partial_reach": 160}
    assert sorted((arm["sequence"], arm["successes"], arm["trials"]) for arm in pattern["arms"]) == [
        (["email", "sms", "email"], 12, 120),
        (["linkedin", "email", "sms", "email"], 12, 120),
    ]
    assert pattern["sample_size"] == 400
    assert pattern_errors("how", pattern) == []


def test_the_allocator_s_recorded_strategy_is_the_sequence_compared():
    client = ClientFactory()
    for i in range(150):
        # The plan rows say email first; the strategy chosen (and recorded) opened on LinkedIn.
        planned_run(client, ["email", "email"], booked=i < 45, strategy="linkedin>email>email")
        planned_run(client, ["email", "sms"], booked=i < 10, strategy="")

    pattern = detect("how", client, now=NOW).pattern.patterns

    assert [entry["sequence"] for entry in pattern["winning_sequences"]] == [["linkedin", "email", "email"]]
    winner = pattern["winning_sequences"][0]
    assert (winner["conversions"], winner["sample_size"]) == (45, 150)
    assert winner["interval"][0] > 1 and winner["q_value"] <= 0.05
    assert pattern["best_first_channel"] == "linkedin"
    assert pattern["confidence"] >= 0.95
