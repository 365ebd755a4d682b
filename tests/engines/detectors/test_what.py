import pytest

from engines.rules.pattern_checks import pattern_errors
from engines.services.learning import detect
from engines.services.learning.evidence import CHANNELS, OUTCOME_BOOKING
from engines.services.learning.stats import MIN_BUCKET
from engines.simulation.synthetic import PLANTED, generate_client
from outreach.models import Activity, ConversionPattern
from outreach.models.choices import SENT_ACTIONS
from tests.engines.detectors.conftest import NOW

pytestmark = pytest.mark.django_db

PLANTED_CTA = PLANTED.cta_lift[0][0]


def test_the_planted_cta_and_flag_are_effective(planted):
    pattern = detect("what", planted.train.client, now=NOW).pattern.patterns

    assert pattern_errors("what", pattern) == []
    assert pattern["ctas"]["effective"] == [PLANTED_CTA]
    assert pattern["personalization"]["effective"] == ["has_company_mention"]
    assert pattern["personalization_lift"]["has_company_mention"] > 1.2
    assert "cost" in pattern["pain_points"]["ineffective"]
    assert "cost" not in pattern["pain_points"]["effective"]


def test_a_feature_is_judged_only_when_credible_at_the_run_s_false_discovery_rate(planted):
    pattern = detect("what", planted.train.client, now=NOW).pattern.patterns

    for group in ("pain_points", "ctas", "personalization"):
        lifts = pattern[group]["lift"]
        credible = {name for name, e in lifts.items() if e["q_value"] <= 0.05}
        assert set(pattern[group]["effective"]) == {name for name in credible if lifts[name]["lift"] > 1}
        assert set(pattern[group]["ineffective"]) == {name for name in credible if lifts[name]["lift"] < 1}
        for name in credible:
            assert lifts[name]["interval"][0] > 1 or lifts[name]["interval"][1] < 1
        for entry in lifts.values():
            assert entry["interval"][0] <= entry["lift"] * 1.05 and entry["lift"] <= entry["interval"][1] * 1.05
            assert entry["sample_size"] >= MIN_BUCKET


def test_unused_features_are_not_judged(planted):
    pattern = detect("what", planted.train.client, now=NOW).pattern.patterns

    # The generator never writes these: no evidence, no verdict.
    assert "competition" not in pattern["pain_points"]["lift"]
    assert "coffee chat" not in pattern["ctas"]["lift"]


def test_lifts_are_repeated_per_channel_with_enough_evidence(planted):
    pattern = detect("what", planted.train.client, now=NOW).pattern.patterns

    assert set(pattern["by_channel"]) <= set(CHANNELS)
    assert PLANTED_CTA in pattern["by_channel"]["email"]["ctas"]["effective"]
    # Length is not planted: a band is named only when credibly better than the channel's other lengths.
    for bounds in pattern["optimal_length"].values():
        assert 0 <= bounds["min_words"] <= bounds["max_words"]
        assert bounds["sample_size"] >= MIN_BUCKET
        assert 1 < bounds["interval"][0] < bounds["interval"][1]


def test_the_snapshot_carries_the_features_the_touch_was_built_with(planted):
    """The detector reads snapshots: they must say what the generator planted."""
    rows = Activity.objects.filter(client=planted.train.client, action__in=SENT_ACTIONS).values_list(
        "content_snapshot", "metadata"
    )
    for snapshot, metadata in rows:
        built = metadata["synthetic"]
        assert snapshot["cta_used"] == built["cta"]
        assert snapshot["pain_points_used"] == ([built["pain_point"]] if built["pain_point"] else [])
        assert snapshot["has_company_mention"] == built["company_mention"]


def test_bookings_alone_can_be_the_outcome(planted):
    pattern = detect("what", planted.train.client, now=NOW, outcome=OUTCOME_BOOKING).pattern.patterns

    assert pattern["outcome"] == OUTCOME_BOOKING
    assert pattern["positives"] < detect("what", planted.train.client, now=NOW).pattern.patterns["positives"]


def test_tiny_data_saves_nothing():
    client = generate_client(n_leads=40, seed=3, now=NOW).client

    result = detect("what", client, now=NOW)

    assert not result.saved
    assert not ConversionPattern.objects.filter(client=client).exists()
