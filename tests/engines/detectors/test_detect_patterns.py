from datetime import timedelta

import pytest

from engines.rules.pattern_checks import pattern_errors
from engines.services.learning import detect_patterns, run_detectors
from engines.services.patterns import get_active_pattern, load_active_patterns
from engines.services.planning.allocator import allocate_lead
from engines.services.scoring.lead_score import score_lead
from engines.simulation.synthetic import PLANTED, generate_client
from outreach.models import ConversionPattern
from tests.engines.detectors.conftest import NOW
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db

TYPES = {"who", "what", "when", "how"}


def test_every_type_is_learned_and_saved_valid(planted):
    client = planted.train.client

    saved = detect_patterns(client, now=NOW)

    assert set(saved) == TYPES
    for pattern_type, pattern in saved.items():
        pattern.refresh_from_db()
        assert pattern.pattern_type == pattern_type
        assert pattern_errors(pattern_type, pattern.patterns) == []
        pattern.full_clean()
        assert (pattern.computed_at, pattern.valid_until) == (NOW, NOW + timedelta(days=7))
        assert (pattern.sample_size, pattern.confidence) == (
            pattern.patterns["sample_size"],
            pattern.patterns["confidence"],
        )
        assert get_active_pattern(client, pattern_type, now=NOW + timedelta(hours=1)) == pattern


def test_history_is_kept_and_the_newest_is_active(planted):
    client = planted.train.client
    first = detect_patterns(client, now=NOW)
    second = detect_patterns(client, now=NOW + timedelta(hours=1), valid_days=2)

    assert ConversionPattern.objects.filter(client=client).count() == 8
    # The second WHO pattern learned from the same leads with the first's weights in use: it ranks them no better,
    # so it is stored but not put to use, and says why.
    assert not second["who"].activated
    assert "no better than the weights in use" in second["who"].patterns["activation"]["reason"]
    assert get_active_pattern(client, "who", now=NOW + timedelta(hours=2)) == first["who"]
    for pattern_type in TYPES - {"who"}:
        assert second[pattern_type].valid_until == NOW + timedelta(hours=1, days=2)
        assert get_active_pattern(client, pattern_type, now=NOW + timedelta(hours=2)) == second[pattern_type]
        # Once the newer one lapses the older one, still valid, is active again.
        assert get_active_pattern(client, pattern_type, now=NOW + timedelta(days=4)) == first[pattern_type]


def test_the_consumers_use_what_was_learned(planted):
    client = planted.train.client
    saved = detect_patterns(client, now=NOW)
    lead = LeadFactory(client=client, timezone="Australia/Sydney")
    later = NOW + timedelta(hours=1)

    score_lead(lead, client, now=later)
    client.exploration_rate = 0  # this plan follows the patterns; exploration has its own tests
    plan = allocate_lead(lead, client, now=later)

    assert lead.als_weights_source == "pattern"
    assert lead.als_weights_used == saved["who"].patterns["recommended_weights"]
    assert plan["patterns_used"] == {"when": True, "how": True}
    assert [touch["channel"] for touch in plan["scheduled_touches"]] == list(PLANTED.best_sequence)
    assert all(load_active_patterns(client, t, now=later) is not None for t in TYPES)


def test_tiny_data_saves_nothing_and_says_why():
    client = generate_client(n_leads=40, seed=3, now=NOW).client

    results = run_detectors(client, now=NOW)

    assert detect_patterns(client, now=NOW) == {}
    assert set(results) == TYPES
    assert all(not result.saved and result.reason.startswith("only ") for result in results.values())
    assert not ConversionPattern.objects.filter(client=client).exists()


def test_nothing_older_than_the_window_is_learned_from(planted):
    client = planted.train.client

    assert detect_patterns(client, now=NOW + timedelta(days=200)) == {}
    assert set(detect_patterns(client, now=NOW + timedelta(days=200), window_days=300)) == TYPES
