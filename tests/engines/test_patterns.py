import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from engines.exceptions import InvalidPattern
from engines.services.patterns import (
    get_active_pattern,
    load_active_patterns,
    pattern_errors,
    validate_pattern,
    weights_errors,
)
from tests.factories import VALID_PATTERNS, ClientFactory, ConversionPatternFactory, how_patterns, when_patterns


@pytest.mark.parametrize("pattern_type", sorted(VALID_PATTERNS))
def test_each_sample_pattern_is_valid(pattern_type):
    assert pattern_errors(pattern_type, VALID_PATTERNS[pattern_type]()) == []


@pytest.mark.parametrize("pattern_type", sorted(VALID_PATTERNS))
def test_a_partial_pattern_is_rejected(pattern_type):
    data = VALID_PATTERNS[pattern_type]()
    for key in list(data):
        partial = {k: v for k, v in data.items() if k != key}
        assert pattern_errors(pattern_type, partial), f"{pattern_type} without {key} passed"


@pytest.mark.parametrize("data", [None, [], "who", 3])
def test_non_object_patterns_are_rejected(data):
    assert pattern_errors("who", data) == [f"patterns must be an object, got {type(data).__name__}"]


def test_unknown_pattern_type_is_rejected():
    assert "unknown pattern type 'why'" in pattern_errors("why", {})[0]


@pytest.mark.parametrize(
    "weights, fragment",
    [
        ({"data_quality": 0.2, "authority": 0.25, "company_fit": 0.25}, "missing timing"),
        ({"data_quality": True, "authority": 0.25, "company_fit": 0.25, "timing": 0.15}, "must be a number"),
        ({"data_quality": float("nan"), "authority": 0.25, "company_fit": 0.25, "timing": 0.15}, "must be a number"),
        ({"data_quality": "0.2", "authority": 0.25, "company_fit": 0.25, "timing": 0.15}, "must be a number"),
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
    from tests.factories import VALID_PATTERNS as samples

    with pytest.raises(InvalidPattern) as excinfo:
        validate_pattern(pattern_type, samples[pattern_type](**overrides))
    assert excinfo.value.pattern_type == pattern_type and excinfo.value.errors


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

    def test_consumers_get_valid_data_and_none_with_a_log_line_for_invalid(self, caplog):
        client = ClientFactory()
        ConversionPatternFactory(client=client, pattern_type="how", patterns=how_patterns())
        assert load_active_patterns(client, "how")["best_first_channel"] == "linkedin"
        broken = ConversionPatternFactory(
            client=client, pattern_type="how", patterns=how_patterns(best_first_channel="fax")
        )
        with caplog.at_level(logging.WARNING, logger="engines"):
            assert load_active_patterns(client, "how") is None
        assert f"ignoring invalid how pattern {broken.pk}" in caplog.text
        assert "best_first_channel 'fax'" in caplog.text
