import statistics
from collections import Counter, defaultdict

import pytest

from engines.rules.pattern_checks import pattern_errors
from engines.services.learning import detect
from engines.services.learning.evidence import OUTCOME_BOOKING, OUTCOME_RESPONSE
from engines.services.learning.stats import MIN_BUCKET
from engines.services.learning.when import MIN_GAP_SAMPLES
from engines.simulation.synthetic import GAP_DAYS, PLANTED, generate_client
from outreach.models import Activity, ConversionPattern
from outreach.models.choices import SENT_ACTIONS
from tests.engines.detectors.conftest import NOW

pytestmark = pytest.mark.django_db


def test_the_planted_days_and_hour_rank_first(planted):
    pattern = detect("when", planted.train.client, now=NOW).pattern.patterns

    assert pattern_errors("when", pattern) == []
    assert {day["day_index"] for day in pattern["best_days"][:2]} == set(PLANTED.best_days)
    assert pattern["best_hours"][0]["hour"] == PLANTED.best_hour
    assert pattern["outcome"] == OUTCOME_RESPONSE


def test_days_and_hours_are_ranked_by_the_adjusted_effect_and_only_when_big_enough(planted):
    pattern = detect("when", planted.train.client, now=NOW).pattern.patterns

    for key in ("day_rates", "hour_rates"):
        ranks = [(entry["interval"][0] or 0.0, entry["lift"]) for entry in pattern[key]]
        assert ranks == sorted(ranks, reverse=True)
        assert all(entry["sample_size"] >= MIN_BUCKET for entry in pattern[key])
    # Touches go out from 8:00 to 17:59 local time only: other hours have no bucket at all.
    assert {entry["hour"] for entry in pattern["hour_rates"]} == set(range(8, 18))
    assert sum(entry["sample_size"] for entry in pattern["day_rates"]) == pattern["sample_size"]
    assert sum(arm["trials"] for arm in pattern["day_arms"]) == pattern["sample_size"]
    assert sum(arm["successes"] for arm in pattern["hour_arms"]) == pattern["positives"]


def test_only_credibly_better_days_and_hours_are_named(planted):
    pattern = detect("when", planted.train.client, now=NOW).pattern.patterns

    for best, rates in (("best_days", "day_rates"), ("best_hours", "hour_rates")):
        assert pattern[best] == [entry for entry in pattern[rates] if entry["q_value"] <= 0.05 and entry["lift"] > 1]
        assert all(entry["interval"][0] > 1 for entry in pattern[best])
    # Hours planted at or below the working hours' average (all but 9:00, 10:00 and 11:00) are never named.
    assert {entry["hour"] for entry in pattern["best_hours"]} <= {9, 10, 11}
    assert pattern["no_preference"] == []
    assert 0.95 <= pattern["confidence"] <= 1


def test_gaps_are_the_medians_of_the_converting_sequences(planted):
    client = planted.train.client
    pattern = detect("when", client, now=NOW).pattern.patterns
    converted_leads = set(client.leads.filter(status="converted").values_list("pk", flat=True))
    sent = defaultdict(dict)
    for lead_id, number, at in Activity.objects.filter(
        client=client, action__in=SENT_ACTIONS, lead_id__in=converted_leads
    ).values_list("lead_id", "touch_number", "created_at"):
        sent[lead_id][number] = at
    steps = defaultdict(list)
    for times in sent.values():
        for number in times:
            if number + 1 in times:
                steps[number].append((times[number + 1] - times[number]).total_seconds() / 86400)
    expected = {
        f"touch_{n}_to_{n + 1}": statistics.median(days) for n, days in steps.items() if len(days) >= MIN_GAP_SAMPLES
    }

    # Stored rounded to a tenth of a day.
    assert pattern["optimal_sequence_gaps"] == pytest.approx(expected, abs=0.05 + 1e-9)
    for n, gap in enumerate(GAP_DAYS[: len(expected)], start=1):
        assert abs(pattern["optimal_sequence_gaps"][f"touch_{n}_to_{n + 1}"] - gap) <= 1


def test_the_converting_touch_distribution_counts_bookings_by_touch(planted):
    client = planted.train.client
    pattern = detect("when", client, now=NOW, outcome=OUTCOME_BOOKING).pattern.patterns
    distribution = pattern["converting_touch_distribution"]

    assert sum(distribution.values()) == client.leads.filter(status="converted").count()
    assert pattern["peak_converting_touch"] == int(max(distribution, key=distribution.get))
    assert pattern["outcome"] == OUTCOME_BOOKING
    assert pattern["sample_size"] == detect("when", client, now=NOW).pattern.patterns["sample_size"]


def test_voice_bookings_are_credited_to_the_call(planted):
    client = planted.train.client
    calls = Counter(
        Activity.objects.filter(client=client, action="voice_completed", led_to_booking=True).values_list(
            "touch_number", flat=True
        )
    )

    distribution = detect("when", client, now=NOW).pattern.patterns["converting_touch_distribution"]

    assert calls
    assert all(distribution[str(number)] >= count for number, count in calls.items())


def test_tiny_data_saves_nothing():
    client = generate_client(n_leads=40, seed=3, now=NOW).client

    result = detect("when", client, now=NOW)

    assert not result.saved
    assert result.reason.startswith("only ")
    assert not ConversionPattern.objects.filter(client=client).exists()
