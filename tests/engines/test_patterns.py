import logging
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from engines.exceptions import InvalidPattern
from engines.rules.pattern_checks import pattern_errors, validate_pattern, weights_errors
from engines.services.patterns import CANDIDATE_CHUNK, get_active_pattern, load_active_patterns
from engines.services.planning.allocator import DEFAULT_SEQUENCE, allocate_lead
from engines.services.scoring.lead_score import score_lead
from tests.factories import (
    VALID_PATTERNS,
    ClientFactory,
    ConversionPatternFactory,
    LeadFactory,
    how_patterns,
    when_patterns,
    who_patterns,
)

REQUIRED = {
    "who": ["recommended_weights"],
    "when": ["best_days", "best_hours", "optimal_sequence_gaps"],
    "how": ["best_first_channel", "winning_sequences"],
    "what": [],
}
WEIGHTS = {"data_quality": 0.10, "authority": 0.15, "company_fit": 0.40, "timing": 0.20}


@pytest.mark.parametrize("pattern_type", sorted(VALID_PATTERNS))
def test_each_sample_pattern_is_valid(pattern_type):
    assert pattern_errors(pattern_type, VALID_PATTERNS[pattern_type]()) == []


@pytest.mark.parametrize("pattern_type", sorted(VALID_PATTERNS))
def test_a_pattern_without_a_key_its_consumer_reads_is_rejected(pattern_type):
    data = VALID_PATTERNS[pattern_type]()
    for key in REQUIRED[pattern_type]:
        partial = {k: v for k, v in data.items() if k != key}
        assert pattern_errors(pattern_type, partial) == [f"missing {key}"]


@pytest.mark.parametrize("pattern_type", sorted(VALID_PATTERNS))
def test_a_pattern_without_keys_no_consumer_reads_is_valid(pattern_type):
    data = VALID_PATTERNS[pattern_type]()
    assert pattern_errors(pattern_type, {key: data[key] for key in REQUIRED[pattern_type]}) == []


def test_the_seed_who_pattern_of_weights_alone_is_valid():
    assert pattern_errors("who", {"recommended_weights": WEIGHTS}) == []


@pytest.mark.parametrize("data", [None, [], "who", 3])
def test_non_object_patterns_are_rejected(data):
    assert pattern_errors("who", data) == [f"patterns must be an object, got {type(data).__name__}"]


@pytest.mark.parametrize("pattern_type", ["why", None, ["who"], {"who": 1}])
def test_unknown_pattern_type_is_rejected(pattern_type):
    assert pattern_errors(pattern_type, {})[0].startswith(f"unknown pattern type {pattern_type!r}")


@pytest.mark.parametrize(
    "weights, fragment",
    [
        ({"data_quality": 0.2, "authority": 0.25, "company_fit": 0.25}, "missing timing"),
        ({"data_quality": True, "authority": 0.25, "company_fit": 0.25, "timing": 0.15}, "must be a number"),
        ({"data_quality": float("nan"), "authority": 0.25, "company_fit": 0.25, "timing": 0.15}, "must be a number"),
        ({"data_quality": float("inf"), "authority": 0.25, "company_fit": 0.25, "timing": 0.15}, "must be a number"),
        ({"data_quality": "0.2", "authority": 0.25, "company_fit": 0.25, "timing": 0.15}, "must be a number"),
        ({"data_quality": 10**400, "authority": 0.25, "company_fit": 0.25, "timing": 0.15}, "must be a number"),
        ({"data_quality": 0.04, "authority": 0.25, "company_fit": 0.40, "timing": 0.15}, "outside"),
        ({"data_quality": 0.10, "authority": 0.55, "company_fit": 0.10, "timing": 0.10}, "outside"),
        ({"data_quality": 0.30, "authority": 0.30, "company_fit": 0.30, "timing": 0.05}, "sum to 0.950"),
        ({"data_quality": 0.10, "authority": 0.10, "company_fit": 0.40, "timing": 0.10}, "sum to 0.700"),
        ([0.2, 0.25, 0.25, 0.15], "must be an object"),
    ],
)
def test_invalid_weights_say_why(weights, fragment):
    errors = weights_errors(weights)
    assert errors and any(fragment in e for e in errors), errors


def test_default_weights_are_valid():
    assert weights_errors({"data_quality": 0.20, "authority": 0.25, "company_fit": 0.25, "timing": 0.15}) == []


@pytest.mark.parametrize(
    "pattern_type, overrides",
    [
        ("when", {"best_days": [{"day_index": 7, "conversion_rate": 0.1}]}),
        ("when", {"best_days": [{"day_index": 1, "conversion_rate": 1.5}]}),
        ("when", {"best_hours": [{"hour": "10", "conversion_rate": 0.1}]}),
        ("when", {"optimal_sequence_gaps": {"touch_1_to_3": 2}}),
        ("when", {"optimal_sequence_gaps": {"touch_1_to_2": -1}}),
        ("when", {"peak_converting_touch": 0}),
        ("how", {"best_first_channel": "fax"}),
        (
            "how",
            {
                "winning_sequences": [
                    {"sequence": ["email", "carrier_pigeon"], "conversion_rate": 0.1, "sample_size": 3}
                ]
            },
        ),
        ("how", {"winning_sequences": [{"sequence": [], "conversion_rate": 0.1, "sample_size": 3}]}),
        ("how", {"channel_effectiveness_by_tier": {"lukewarm": {}}}),
        ("how", {"channel_effectiveness_by_tier": {"hot": {"voice": {"conversion_rate": 2, "sample_size": 1}}}}),
        ("what", {"pain_points": {"effective": "leads", "ineffective": []}}),
        ("what", {"ctas": {"effective": [1]}}),
        ("what", {"personalization_lift": {"has_first_name": "big"}}),
        ("what", {"optimal_length": {"email": {"min_words": 90, "max_words": 40}}}),
        ("who", {"sample_size": -1}),
        ("who", {"confidence": 1.2}),
    ],
)
def test_malformed_fields_are_rejected(pattern_type, overrides):
    with pytest.raises(InvalidPattern) as excinfo:
        validate_pattern(pattern_type, VALID_PATTERNS[pattern_type](**overrides))
    assert excinfo.value.pattern_type == pattern_type and excinfo.value.errors


@pytest.mark.parametrize(
    "pattern_type, overrides, message",
    [
        (
            "when",
            {"best_days": [{"day_index": 7, "conversion_rate": 0.1}]},
            "best_days[0].day_index must be a whole number 0-6, got 7",
        ),
        ("when", {"best_hours": [{"hour": True, "conversion_rate": 0.1}]}, "best_hours[0].hour must be a whole number"),
        ("when", {"best_days": {"monday": 1}}, "best_days must be a list, got dict"),
        (
            "when",
            {"optimal_sequence_gaps": {"touch_1_to_3": 2}},
            "optimal_sequence_gaps key 'touch_1_to_3': must look like touch_N_to_N+1 (N >= 1)",
        ),
        ("when", {"optimal_sequence_gaps": {"touch_1_to_2": 0}}, "optimal_sequence_gaps.touch_1_to_2=0 is outside (0"),
        ("how", {"best_first_channel": "fax"}, "best_first_channel 'fax' is not one of 'email', 'sms'"),
        ("how", {"best_first_channel": ["email"]}, "best_first_channel ['email'] is not one of"),
        ("how", {"winning_sequences": [{"sequence": []}]}, "winning_sequences[0].sequence must not be empty"),
        (
            "how",
            {"channel_effectiveness_by_tier": {"lukewarm": {}}},
            "channel_effectiveness_by_tier key 'lukewarm' is not one of 'hot', 'warm' or 'cool'",
        ),
        ("who", {"confidence": float("nan")}, "confidence must be a number, got nan"),
        ("who", {"recommended_weights": None}, "recommended_weights must be an object, got NoneType"),
        (
            "what",
            {"optimal_length": {"email": {"min_words": 9, "max_words": 4}}},
            "optimal_length.email: min_words (9) is above max_words (4)",
        ),
    ],
)
def test_messages_say_where_and_why(pattern_type, overrides, message):
    errors = pattern_errors(pattern_type, VALID_PATTERNS[pattern_type](**overrides))
    assert any(error.startswith(message) for error in errors), errors


def test_many_bad_entries_are_summarised():
    errors = pattern_errors("when", when_patterns(best_hours=[{"hour": 99, "conversion_rate": 0.1}] * 500))
    assert len(errors) == 21 and errors[-1] == "... and 480 more"


def test_no_preference_is_valid():
    assert pattern_errors("when", when_patterns(best_days=[], best_hours=[], optimal_sequence_gaps={})) == []
    assert pattern_errors("how", how_patterns(best_first_channel=None, winning_sequences=[])) == []


def test_the_optional_keys_producers_write_are_valid():
    arms = [{"sequence": ["email", "sms"], "successes": 3, "trials": 40}]
    day_arms = [{"day_index": 1, "successes": 2, "trials": 30}]
    hour_arms = [{"hour": 10, "successes": 0, "trials": 5}]
    activation = {"auc_new": 0.71, "auc_current": 0.66, "interval": [0.01, 0.09], "leads": 900, "activated": True}
    extra = {"no_preference": ["best_days"], "evidence": {"window_days": 90, "anything": [1, {"x": None}]}}
    assert pattern_errors("how", how_patterns(arms=arms, **extra)) == []
    assert pattern_errors("when", when_patterns(day_arms=day_arms, hour_arms=hour_arms, **extra)) == []
    assert pattern_errors("who", who_patterns(activation=activation, **extra)) == []
    assert pattern_errors("who", who_patterns(base_rate=0.04, model={"kind": "anything"})) == []


@pytest.mark.parametrize(
    "pattern_type, overrides, message",
    [
        ("how", {"arms": [{"sequence": ["email"], "successes": 5, "trials": 4}]}, "arms[0]: successes (5) exceed"),
        ("how", {"arms": [{"sequence": ["fax"], "successes": 0, "trials": 4}]}, "arms[0].sequence[0] 'fax'"),
        ("how", {"arms": [{"sequence": ["sms"], "successes": 0, "trials": 10**13}]}, "arms[0].trials must be <="),
        (
            "when",
            {"day_arms": [{"day_index": 7, "successes": 0, "trials": 1}]},
            "day_arms[0].day_index must be a whole number 0-6",
        ),
        ("when", {"hour_arms": [{"hour": 3, "successes": 1.5, "trials": 2}]}, "hour_arms[0].successes must be a whole"),
        ("who", {"activation": {"auc_new": 1.5}}, "activation.auc_new=1.5 is outside [0, 1]"),
        ("who", {"activation": {"interval": [0.1]}}, "activation.interval: List should have at least 2"),
        ("who", {"activation": {"activated": "yes"}}, "activation.activated: Input should be a valid boolean"),
        ("who", {"no_preference": "best_days"}, "no_preference must be a list"),
        ("who", {"evidence": []}, "evidence must be an object"),
    ],
)
def test_bad_optional_keys_are_rejected(pattern_type, overrides, message):
    errors = pattern_errors(pattern_type, VALID_PATTERNS[pattern_type](**overrides))
    assert any(error.startswith(message) for error in errors), errors


@pytest.mark.parametrize(
    "pattern_type, data",
    [
        ("how", {"best_first_channel": ["email"], "winning_sequences": [{"sequence": [["email"]]}]}),
        ("how", {"best_first_channel": {"a": 1}, "winning_sequences": [{"sequence": [{"b": 2}]}]}),
        (
            "who",
            {"recommended_weights": dict.fromkeys(("data_quality", "authority", "company_fit", "timing"), 10**400)},
        ),
        ("who", {"recommended_weights": WEIGHTS, "sample_size": 10**400, "confidence": -(10**400)}),
        ("who", {"recommended_weights": WEIGHTS, "sample_size": 10**5000}),
        ("when", {"best_days": [[[[[[[[[[[[]]]]]]]]]]]] * 50, "best_hours": [None], "optimal_sequence_gaps": []}),
        ("when", {"best_days": [], "best_hours": [], "optimal_sequence_gaps": {"touch_" + "9" * 5000 + "_to_2": 1}}),
        ("when", {"best_days": [], "best_hours": [], "optimal_sequence_gaps": {1: 2, None: 3}}),
        ("what", {"optimal_length": {("email",): 1}, "personalization_lift": {"x": 10**400}}),
    ],
)
def test_hostile_values_are_reported_not_raised(pattern_type, data):
    errors = pattern_errors(pattern_type, data)
    assert errors and all(isinstance(error, str) and len(error) < 400 for error in errors)


def test_deep_nesting_is_reported_not_raised():
    nested: list = []
    for _ in range(100_000):
        nested = [nested]
    errors = pattern_errors("who", {"recommended_weights": WEIGHTS, "no_preference": nested})
    assert errors and errors[0].startswith("no_preference")


@pytest.mark.django_db
class TestGetActivePattern:
    def test_none_when_there_is_no_pattern(self):
        assert get_active_pattern(ClientFactory(), "who") is None

    def test_expired_pattern_is_not_active(self):
        now = timezone.now()
        pattern = ConversionPatternFactory(computed_at=now - timedelta(days=8), valid_until=now - timedelta(days=1))
        assert get_active_pattern(pattern.client, "who", now=now) is None
        assert get_active_pattern(pattern.client, "who", now=now - timedelta(days=2)) == pattern

    def test_newest_of_several_valid_patterns_wins(self):
        now = timezone.now()
        client = ClientFactory()
        ConversionPatternFactory(client=client, computed_at=now - timedelta(days=3))
        newest = ConversionPatternFactory(client=client, computed_at=now - timedelta(days=1))
        ConversionPatternFactory(client=client, computed_at=now - timedelta(days=2))
        assert get_active_pattern(client, "who", now=now) == newest
        assert get_active_pattern(client.pk, "who", now=now) == newest

    def test_a_pattern_computed_after_now_is_not_yet_active(self):
        now = timezone.now()
        client = ClientFactory()
        older = ConversionPatternFactory(client=client, computed_at=now - timedelta(days=1))
        ConversionPatternFactory(client=client, computed_at=now + timedelta(hours=1))
        assert get_active_pattern(client, "who", now=now) == older

    def test_other_clients_and_other_types_are_ignored(self):
        client = ClientFactory()
        ConversionPatternFactory()  # another client's WHO pattern
        ConversionPatternFactory(client=client, pattern_type="when", patterns=when_patterns())
        assert get_active_pattern(client, "who") is None
        assert get_active_pattern(client, "when").pattern_type == "when"

    def test_a_pattern_not_activated_is_never_active(self):
        now = timezone.now()
        client = ClientFactory()
        used = ConversionPatternFactory(client=client, computed_at=now - timedelta(days=2))
        ConversionPatternFactory(client=client, computed_at=now - timedelta(days=1), activated=False)
        assert get_active_pattern(client, "who", now=now) == used

    def test_newest_valid_pattern_is_used_and_each_newer_invalid_one_logged(self, caplog):
        now = timezone.now()
        client = ClientFactory()
        valid = ConversionPatternFactory(
            client=client, pattern_type="how", patterns=how_patterns(), computed_at=now - timedelta(days=3)
        )
        broken = [
            ConversionPatternFactory(
                client=client, pattern_type="how", patterns=patterns, computed_at=now - timedelta(days=days)
            )
            for days, patterns in ((2, how_patterns(best_first_channel="fax")), (1, {"winning_sequences": "x"}))
        ]
        with caplog.at_level(logging.WARNING, logger="engines"):
            assert get_active_pattern(client, "how", now=now) == valid
            assert load_active_patterns(client, "how", now=now) == valid.patterns
        assert f"ignoring invalid how pattern {broken[0].pk} of client {client.pk}" in caplog.text
        assert "best_first_channel 'fax'" in caplog.text
        assert f"ignoring invalid how pattern {broken[1].pk}" in caplog.text
        assert "missing best_first_channel" in caplog.text

    def test_the_valid_pattern_is_found_behind_many_invalid_ones(self):
        now = timezone.now()
        client = ClientFactory()
        valid = ConversionPatternFactory(client=client, computed_at=now - timedelta(days=3))
        for hours in range(1, 2 * CANDIDATE_CHUNK + 2):
            ConversionPatternFactory(
                client=client, computed_at=now - timedelta(hours=hours), patterns={"recommended_weights": {}}
            )
        assert get_active_pattern(client, "who", now=now) == valid

    def test_none_with_a_log_line_when_every_pattern_is_invalid(self, caplog):
        client = ClientFactory()
        broken = ConversionPatternFactory(client=client, patterns={"recommended_weights": [0.2, 0.3]})
        with caplog.at_level(logging.WARNING, logger="engines"):
            assert load_active_patterns(client, "who") is None
        assert f"ignoring invalid who pattern {broken.pk}" in caplog.text

    def test_consumers_get_the_valid_data(self):
        client = ClientFactory()
        ConversionPatternFactory(client=client, pattern_type="how", patterns=how_patterns())
        assert load_active_patterns(client, "how")["best_first_channel"] == "linkedin"


@pytest.mark.django_db
class TestConsumers:
    def test_the_scorer_uses_a_pattern_of_weights_alone(self):
        client = ClientFactory()
        ConversionPatternFactory(client=client, patterns={"recommended_weights": WEIGHTS})
        lead = LeadFactory(client=client)
        score_lead(lead)
        assert (lead.als_weights_used, lead.als_weights_source) == (WEIGHTS, "pattern")

    def test_the_scorer_uses_the_older_valid_pattern_not_the_client_weights(self):
        now = timezone.now()
        client = ClientFactory(als_learned_weights={**WEIGHTS, "company_fit": 0.35, "timing": 0.25})
        ConversionPatternFactory(client=client, computed_at=now - timedelta(days=2))
        ConversionPatternFactory(
            client=client, computed_at=now - timedelta(days=1), patterns=who_patterns(recommended_weights={"x": 1})
        )
        lead = LeadFactory(client=client)
        score_lead(lead, now=now)
        assert (lead.als_weights_used, lead.als_weights_source) == (WEIGHTS, "pattern")

    def test_the_allocator_plans_with_no_preference_patterns(self):
        now = datetime(2026, 3, 2, tzinfo=UTC)
        lead = LeadFactory(als_score=60)
        for pattern_type, data in (
            ("how", {"best_first_channel": None, "winning_sequences": []}),
            ("when", {"best_days": [], "best_hours": [], "optimal_sequence_gaps": {}}),
        ):
            ConversionPatternFactory(
                client=lead.client, pattern_type=pattern_type, patterns=data, computed_at=now - timedelta(hours=1)
            )
        result = allocate_lead(lead, now=now)
        assert result["patterns_used"] == {"when": True, "how": True}
        assert [touch["channel"] for touch in result["sequence"]] == list(DEFAULT_SEQUENCE)
