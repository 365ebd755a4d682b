import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engines.rules.pattern_checks import CHANNELS
from engines.rules.sending_window import SendingWindow
from engines.services.planning.allocator import (
    DEFAULT_BEST_DAYS,
    DEFAULT_BEST_HOURS,
    DEFAULT_SEQUENCE,
    allocate_lead,
    allocate_leads,
)
from engines.services.planning.exploration import (
    CANDIDATE_DAYS,
    CANDIDATE_HOURS,
    CANDIDATE_SEQUENCES,
    EXPLORABLE_HOURS,
    Arm,
    ArmSet,
    Explorer,
    day_arms,
    hour_arms,
    seeded_draws,
    sequence_arms,
)
from outreach.models import ScheduledTouch
from tests.factories import ClientFactory, ConversionPatternFactory, LeadFactory, how_patterns, when_patterns

MONDAY = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)


def binomial_bounds(n, p, sds=4.5):
    """Bounds a Binomial(n, p) count falls outside with probability below 1e-5."""
    mean, sd = n * p, math.sqrt(n * p * (1 - p))
    return mean - sds * sd, mean + sds * sd


# ---------------------------------------------------------------------------
# Candidates and evidence
# ---------------------------------------------------------------------------


def test_without_arms_the_candidates_are_the_documented_sets_with_flat_priors():
    sequences = sequence_arms(None)
    assert [arm.key for arm in sequences] == list(CANDIDATE_SEQUENCES)
    assert [arm.key for arm in day_arms(None)] == list(CANDIDATE_DAYS)
    assert [arm.key for arm in hour_arms(None)] == list(CANDIDATE_HOURS)
    assert {(arm.successes, arm.trials) for arm in [*sequences, *day_arms(None), *hour_arms(None)]} == {(0, 0)}


def test_arms_carry_their_evidence_and_the_default_and_winners_join_with_flat_priors():
    how = how_patterns(
        arms=[
            {"sequence": ["sms", "email"], "successes": 3, "trials": 40},
            {"sequence": list(DEFAULT_SEQUENCE), "successes": 9, "trials": 100},
        ],
        winning_sequences=[{"sequence": ["linkedin", "email"], "conversion_rate": 0.2, "sample_size": 50}],
    )
    arms = {arm.key: (arm.successes, arm.trials) for arm in sequence_arms(how)}
    assert arms == {("sms", "email"): (3, 40), tuple(DEFAULT_SEQUENCE): (9, 100), ("linkedin", "email"): (0, 0)}


def test_the_strategy_followed_now_is_a_candidate_as_it_is_recorded():
    how = how_patterns(
        best_first_channel="voice",
        winning_sequences=[{"sequence": ["sms", "email", "email"], "conversion_rate": 0.2, "sample_size": 50}],
    )
    keys = [arm.key for arm in sequence_arms(how)]
    assert ("voice", "email", "email") in keys and ("sms", "email", "email") in keys


def test_day_and_hour_arms_join_the_defaults_and_what_the_pattern_names():
    when = when_patterns(
        day_arms=[{"day_index": 5, "successes": 4, "trials": 30}],
        hour_arms=[{"hour": 16, "successes": 2, "trials": 25}, {"hour": 3, "successes": 9, "trials": 10}],
        best_hours=[{"hour": 11, "conversion_rate": 0.1}],
    )
    days = {arm.key: (arm.successes, arm.trials) for arm in day_arms(when)}
    hours = {arm.key: (arm.successes, arm.trials) for arm in hour_arms(when)}
    assert days == {5: (4, 30), **{d: (0, 0) for d in (*DEFAULT_BEST_DAYS, 2)}}
    # 03:00 is a night hour: never explored, whatever its evidence.
    assert hours == {16: (2, 25), **{h: (0, 0) for h in (*DEFAULT_BEST_HOURS, 11)}}


@pytest.mark.parametrize(
    "arms",
    [
        "many",
        [None, 3, "x", []],
        [{"sequence": ["fax"], "successes": 1, "trials": 2}],
        [{"sequence": [["email"]], "successes": 1, "trials": 2}],
        [{"sequence": ["email"], "successes": 3, "trials": 2}],
        [{"sequence": ["email"], "successes": True, "trials": 2}],
        [{"sequence": ["email"], "successes": -1, "trials": 2}],
        [{"sequence": ["email"], "successes": 1.5, "trials": 2}],
        [{"sequence": [], "successes": 0, "trials": 0}],
    ],
)
def test_malformed_arms_are_left_out(arms):
    assert [arm.key for arm in sequence_arms({"arms": arms})] == list(CANDIDATE_SEQUENCES)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8) | st.sampled_from(sorted(CHANNELS)),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
ARM_KEYS = st.sampled_from(["sequence", "successes", "trials", "day_index", "hour"])


@settings(max_examples=200, deadline=None)
@given(
    arms=JSON,
    arm=st.dictionaries(ARM_KEYS, JSON),
    no_preference=JSON,
    seed=st.integers(0, 2**32 - 1),
)
def test_any_json_in_the_optional_keys_never_breaks_a_draw(arms, arm, no_preference, seed):
    # The keys a pattern's validation guarantees come valid; the optional ones may hold anything.
    optional = {"arms": arms, "day_arms": [arm, arms], "hour_arms": [arm], "no_preference": no_preference}
    how = how_patterns(**optional, winning_sequences=[{"sequence": ["sms"], "conversion_rate": 0.1, "sample_size": 40}])
    drawn = Explorer(1.0, how, when_patterns(**optional), np.random.default_rng(seed)).draw()
    assert drawn is not None
    assert drawn.sequence and set(drawn.sequence) <= CHANNELS
    assert len(drawn.best_days) == 3 and set(drawn.best_days) <= set(range(7))
    assert len(drawn.best_hours) == 3 and set(drawn.best_hours) <= EXPLORABLE_HOURS


# ---------------------------------------------------------------------------
# Thompson sampling
# ---------------------------------------------------------------------------


def test_thompson_sampling_mostly_picks_the_arm_with_better_evidence_and_sometimes_the_other():
    arms = ArmSet([Arm("weak", 5, 100), Arm("strong", 15, 100), Arm("unknown")])
    rng = np.random.default_rng(7)
    picks = [arms.draw(rng)[0][0] for _ in range(2000)]
    # The flat prior's mean is 0.5, so the untried arm is drawn high often: that is what exploration is for.
    assert picks.count("strong") > picks.count("weak")
    assert picks.count("weak") > 0 and picks.count("unknown") > 0


def test_a_draw_records_the_chosen_arms_and_every_arms_evidence_and_draw():
    arms = ArmSet([Arm(1, 2, 10), Arm(2, 0, 0), Arm(3, 5, 9)])
    chosen, record = arms.draw(np.random.default_rng(1), top=2)
    assert record["chosen"] == [str(key) for key in chosen] and len(chosen) == 2
    assert {label: value[:2] for label, value in record["arms"].items()} == {"1": [2, 10], "2": [0, 0], "3": [5, 9]}
    draws = {int(label): value[2] for label, value in record["arms"].items()}
    assert all(0 <= draw <= 1 for draw in draws.values())
    assert sorted(draws, key=lambda key: -draws[key])[:2] == chosen


@pytest.mark.parametrize("rate", [0.1, 0.3])
def test_the_share_of_plans_that_explore_is_the_rate(rate):
    explorer = Explorer(rate, None, None, np.random.default_rng(11))
    n = 5000
    explored = sum(explorer.draw() is not None for _ in range(n))
    low, high = binomial_bounds(n, rate)
    assert low <= explored <= high


def test_a_zero_rate_never_explores_and_draws_nothing():
    rng = np.random.default_rng(3)
    state = rng.bit_generator.state
    explorer = Explorer(0.0, how_patterns(), when_patterns(), rng)
    assert all(explorer.draw() is None for _ in range(500))
    assert rng.bit_generator.state == state


# ---------------------------------------------------------------------------
# Through the allocator
# ---------------------------------------------------------------------------


def add_pattern(client, kind, data):
    ConversionPatternFactory(
        client=client,
        pattern_type=kind,
        patterns=data,
        computed_at=MONDAY - timedelta(hours=1),
        valid_until=MONDAY + timedelta(days=30),
    )


@pytest.mark.django_db
def test_about_ten_percent_of_new_plans_explore_and_each_touch_records_the_draw():
    client = ClientFactory(exploration_rate=0.10)
    how = how_patterns(arms=[{"sequence": ["sms", "email", "email"], "successes": 2, "trials": 30}])
    add_pattern(client, "how", how)
    add_pattern(client, "when", when_patterns(day_arms=[{"day_index": 4, "successes": 1, "trials": 20}]))
    LeadFactory.create_batch(400, client=client)

    counts = allocate_leads(client.leads.all(), now=MONDAY, rng=np.random.default_rng(2026))

    assert counts["allocated"] == 400
    plans = {}
    for touch in ScheduledTouch.objects.filter(client=client):
        plans.setdefault(touch.sequence_id, []).append(touch)
    assert len(plans) == 400
    exploring = [touches for touches in plans.values() if touches[0].is_exploration]
    low, high = binomial_bounds(400, 0.10)
    assert low <= len(exploring) <= high and exploring
    for touches in plans.values():
        # One decision per plan: every touch of a sequence says the same.
        assert len({(t.is_exploration, t.planned_sequence, str(t.exploration)) for t in touches}) == 1
    for touches in exploring:
        record = touches[0].exploration
        assert record["method"] == "thompson"
        assert record["sequence"]["chosen"] == [touches[0].planned_sequence]
        assert "sms>email>email" in record["sequence"]["arms"]
        assert record["days"]["arms"]["4"][:2] == [1, 20]
    following = [touches for touches in plans.values() if not touches[0].is_exploration]
    assert {touches[0].planned_sequence for touches in following} == {"linkedin>email>email>sms"}
    assert all(touches[0].exploration == {} for touches in following)


@pytest.mark.django_db
def test_the_same_seed_plans_the_same_explorations():
    client = ClientFactory(exploration_rate=0.5)
    LeadFactory.create_batch(30, client=client)

    def plans():
        rows = ScheduledTouch.objects.filter(client=client, status="planned").order_by("lead_id", "touch_number")
        return [(r.lead_id, r.channel, r.scheduled_at, r.is_exploration, r.planned_sequence) for r in rows]

    allocate_leads(client.leads.all(), now=MONDAY, rng=np.random.default_rng(5))
    first = plans()
    allocate_leads(client.leads.all(), now=MONDAY, rng=np.random.default_rng(5), replan=True)
    assert plans() == first


@pytest.mark.django_db
def test_a_sequence_override_never_explores():
    lead = LeadFactory(client=ClientFactory(exploration_rate=1.0))
    result = allocate_lead(lead, sequence_override=["sms", "email"], now=MONDAY, rng=np.random.default_rng(0))
    assert (result["is_exploration"], result["exploration"]) == (False, None)
    assert [touch["hour"] for touch in result["scheduled_touches"]] == [10, 10]
    assert not ScheduledTouch.objects.filter(lead=lead, is_exploration=True).exists()


def test_planners_given_no_generator_repeat_their_draws_inside_seeded_draws():
    def draws():
        explorer = Explorer(1.0, None, None)
        return [explorer.draw().sequence for _ in range(20)]

    with seeded_draws(11):
        first = draws()
    with seeded_draws(11):
        again = draws()
    with seeded_draws(12):
        other = draws()

    assert first == again
    assert first != other


@pytest.mark.parametrize(
    ("window", "hours", "days"),
    [
        (SendingWindow(7, 19), set(range(7, 19)), set(range(5))),
        (SendingWindow(9, 12, frozenset(range(7))), {9, 10, 11}, set(range(7))),
        (SendingWindow(21, 24), {21, 22, 23}, set(range(5))),  # no explorable hour: the window's own
    ],
)
def test_exploration_draws_only_the_days_and_hours_the_sending_window_allows(window, hours, days):
    # Arms that tempt it out of the window: evening and weekend evidence that looks excellent.
    when = when_patterns(
        hour_arms=[{"hour": h, "successes": 9, "trials": 10} for h in (6, 19, 20)]
        + [{"hour": 10, "successes": 1, "trials": 50}],
        day_arms=[{"day_index": d, "successes": 9, "trials": 10} for d in (5, 6)]
        + [{"day_index": 1, "successes": 1, "trials": 50}],
        best_hours=[{"hour": 20, "conversion_rate": 0.9}],
    )
    explorer = Explorer(1.0, None, when, np.random.default_rng(3), window)

    drawn = [explorer.draw() for _ in range(200)]

    assert {hour for plan in drawn for hour in plan.best_hours} <= hours
    assert {day for plan in drawn for day in plan.best_days} <= days
    assert all(plan.best_hours for plan in drawn)
