import pytest

from engines.services.planning.calendar import DEFAULT_BEST_DAYS, DEFAULT_BEST_HOURS, DEFAULT_GAPS, timing_from
from tests.factories import when_patterns

DAYS = [{"day_index": 5, "conversion_rate": 0.3}, {"day_index": 0, "conversion_rate": 0.2}]
HOURS = [{"hour": 16, "conversion_rate": 0.3}]


@pytest.mark.parametrize(
    "when",
    [
        None,
        when_patterns(best_days=[], best_hours=[]),
        when_patterns(best_days=DAYS, best_hours=HOURS, no_preference=["best_days", "best_hours"]),
    ],
)
def test_no_preference_keeps_the_default_days_and_hours(when):
    timing = timing_from(when)
    assert timing.best_days == frozenset(DEFAULT_BEST_DAYS)
    assert timing.best_hours == tuple(DEFAULT_BEST_HOURS)


def test_a_part_without_preference_keeps_its_default_and_the_other_is_followed():
    timing = timing_from(when_patterns(best_days=DAYS, best_hours=HOURS, no_preference=["best_hours"]))
    assert timing.best_days == frozenset({5, 0})
    assert timing.best_hours == tuple(DEFAULT_BEST_HOURS)


def test_what_the_pattern_names_is_taken_best_first():
    timing = timing_from(when_patterns(best_days=DAYS, best_hours=HOURS, optimal_sequence_gaps={"touch_1_to_2": 1}))
    assert (timing.best_days, timing.best_hours) == (frozenset({5, 0}), (16,))
    assert timing.gaps == {**DEFAULT_GAPS, "touch_1_to_2": 1}
