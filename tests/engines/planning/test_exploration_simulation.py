"""Exploration keeps learning alive: a pure simulation over the exploration module, no database.

Each round, a client plans `PLANS` leads. The learned strategy (what the HOW
detector would name) is the credibly best candidate (highest lower bound of its
posterior) in the detector's look-back window; a share of plans
explores by Thompson sampling over every candidate, drawn from its evidence in
the same window. Outcomes are drawn from the true conversion rates, and half-way
a sequence that was poor becomes the best.
"""

from collections import deque

import numpy as np
import pytest

from engines.services.planning.exploration import Arm, ArmSet

A = ("email", "linkedin", "email", "sms", "voice", "email")
B = ("sms", "email", "linkedin", "email", "voice", "email")
C = ("linkedin", "email", "email", "sms", "voice", "email")
D = ("email", "email", "email", "email")
CANDIDATES = (A, B, C, D)
BEFORE = {A: 0.10, B: 0.04, C: 0.06, D: 0.05}
AFTER = {A: 0.10, B: 0.18, C: 0.06, D: 0.05}

ROUNDS = 50
CHANGE_AT = 20
PLANS = 400
WINDOW = 5  # rounds of history the detector looks at
CREDIBLE_TRIALS = 30  # a candidate needs this much evidence to be named
FOUND_WITHIN = 15  # rounds after the change


def windowed_arms(history: deque) -> list[Arm]:
    totals = {seq: [0, 0] for seq in CANDIDATES}
    for round_counts in history:
        for seq, (successes, trials) in round_counts.items():
            totals[seq][0] += successes
            totals[seq][1] += trials
    return [Arm(seq, successes, trials) for seq, (successes, trials) in totals.items()]


def lower_bound(arm: Arm) -> float:
    """About the 2.5th percentile of the arm's Beta posterior (normal approximation)."""
    alpha, beta = arm.successes + 1, arm.trials - arm.successes + 1
    mean = alpha / (alpha + beta)
    return mean - 2 * np.sqrt(mean * (1 - mean) / (alpha + beta + 1))


def learned(arms: list[Arm], current: tuple) -> tuple:
    """The detector's pick: the credibly best candidate (highest lower bound) with enough evidence."""
    credible = [arm for arm in arms if arm.trials >= CREDIBLE_TRIALS]
    if not credible:
        return current
    return max(credible, key=lower_bound).key


def simulate(rate: float, seed: int) -> list[tuple]:
    """The learned strategy at the start of each round."""
    rng = np.random.default_rng(seed)
    # History before the simulation: every candidate was tried evenly once.
    history: deque = deque(maxlen=WINDOW)
    history.append({seq: (int(rng.binomial(100, BEFORE[seq])), 100) for seq in CANDIDATES})
    followed, picks = A, []
    for round_number in range(ROUNDS):
        truth = BEFORE if round_number < CHANGE_AT else AFTER
        arms = windowed_arms(history)
        followed = learned(arms, followed)
        picks.append(followed)
        explorer = ArmSet(arms)
        counts = {seq: [0, 0] for seq in CANDIDATES}
        for _ in range(PLANS):
            plan = explorer.draw(rng)[0][0] if rng.random() < rate else followed
            counts[plan][1] += 1
            counts[plan][0] += int(rng.random() < truth[plan])
        history.append({seq: tuple(value) for seq, value in counts.items()})
    return picks


@pytest.mark.parametrize("seed", range(12))
def test_ten_percent_exploration_finds_the_new_best_sequence_and_keeps_it(seed):
    picks = simulate(0.10, seed)
    assert picks[CHANGE_AT - 1] == A, "the first half's best is followed before the change"
    found = next(i for i in range(CHANGE_AT, ROUNDS) if picks[i] == B)
    assert found - CHANGE_AT <= FOUND_WITHIN
    assert set(picks[-5:]) == {B}


@pytest.mark.parametrize("seed", range(12))
def test_without_exploration_learning_locks_in_on_the_old_best(seed):
    picks = simulate(0.0, seed)
    # It follows whatever looked best at the start (the old best, or an early fluke) and never learns of B.
    assert B not in picks
    assert len(set(picks[CHANGE_AT:])) == 1
