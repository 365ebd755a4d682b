from datetime import UTC, datetime, timedelta

import pytest

from engines.exceptions import InvalidOverride, NotPlannable, PlanningError
from engines.services.planning.allocator import allocate_lead
from engines.services.planning.sequence_rules import (
    DEFAULT_SEQUENCE,
    build_sequence,
    strategy,
    validate_sequence_override,
)
from outreach.models import ScheduledTouch
from tests.factories import ConversionPatternFactory, LeadFactory, how_patterns

MONDAY = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
WINNER = [{"sequence": ["sms", "email", "linkedin", "email"], "conversion_rate": 0.2, "sample_size": 60}]


@pytest.mark.parametrize(
    "how",
    [
        None,
        how_patterns(best_first_channel=None, winning_sequences=[]),
        # A pattern that says it has no preference is not followed even where it lists something.
        how_patterns(
            best_first_channel="sms",
            winning_sequences=WINNER,
            no_preference=["best_first_channel", "winning_sequences"],
        ),
    ],
)
def test_no_preference_keeps_the_default_sequence(how):
    assert strategy(how) == tuple(DEFAULT_SEQUENCE)
    assert build_sequence("warm", how) == DEFAULT_SEQUENCE


def test_no_preference_for_one_part_keeps_the_other():
    how = how_patterns(best_first_channel="voice", winning_sequences=WINNER, no_preference=["best_first_channel"])
    assert strategy(how) == ("sms", "email", "linkedin", "email")
    how = how_patterns(best_first_channel="voice", winning_sequences=WINNER, no_preference=["winning_sequences"])
    assert strategy(how) == ("voice", *DEFAULT_SEQUENCE[1:])


def test_the_strategy_is_the_winner_with_the_preferred_first_channel():
    assert strategy(how_patterns(best_first_channel="voice", winning_sequences=WINNER)) == (
        "voice",
        "email",
        "linkedin",
        "email",
    )


@pytest.mark.django_db
def test_touches_record_the_strategy_as_planned_not_what_reached_the_lead():
    lead = LeadFactory(phone="")  # no SMS, no calls
    ConversionPatternFactory(
        client=lead.client,
        pattern_type="how",
        patterns=how_patterns(best_first_channel=None, winning_sequences=WINNER),
        computed_at=MONDAY - timedelta(hours=1),
        valid_until=MONDAY + timedelta(days=30),
    )
    result = allocate_lead(lead, now=MONDAY)
    assert [touch["channel"] for touch in result["sequence"]] == ["email", "linkedin", "email"]
    assert result["planned_sequence"] == "sms>email>linkedin>email"
    rows = ScheduledTouch.objects.filter(lead=lead)
    assert set(rows.values_list("planned_sequence", "is_exploration")) == {("sms>email>linkedin>email", False)}


@pytest.mark.django_db
def test_an_override_is_recorded_as_the_strategy_requested():
    lead = LeadFactory(phone="")
    allocate_lead(lead, sequence_override=["sms", "email", "voice"], now=MONDAY)
    assert set(ScheduledTouch.objects.filter(lead=lead).values_list("planned_sequence", flat=True)) == {
        "sms>email>voice"
    }


def test_planning_errors_are_engine_errors_that_say_why():
    with pytest.raises(InvalidOverride, match="unknown channels"):
        validate_sequence_override(["email", "fax"])
    assert issubclass(InvalidOverride, PlanningError) and issubclass(NotPlannable, PlanningError)
    assert NotPlannable("lead_replied").reason == "lead_replied"


@pytest.mark.parametrize("override", [[["email"]], [{"touch_number": 1, "channel": ["sms"]}], [None]])
def test_an_override_of_unhashable_or_odd_values_is_refused_cleanly(override):
    with pytest.raises(InvalidOverride):
        validate_sequence_override(override)
