"""The shared statistics: false discovery control, stratified comparisons, WHO's shrinkage and held-out AUC."""

import numpy as np
import pytest

from engines.services.learning.stats import group, holdout_check, judge, lifts, q_values, stratified_lifts
from engines.services.learning.weights import (
    chi2_survival,
    compare_auc,
    deviation_statistic,
    fit_logistic,
    ranking_evidence,
    shrinkage,
    varying,
)


def test_q_values_are_benjamini_hochberg_adjusted_p_values():
    p = np.array([0.01, 0.04, 0.03, 0.5])

    # Sorted: 0.01, 0.03, 0.04, 0.5; p * m / rank: 0.04, 0.06, 0.053, 0.5; then each the minimum of those after it.
    assert q_values(p) == pytest.approx([0.04, 0.04 * 4 / 3, 0.04 * 4 / 3, 0.5])
    assert q_values(np.array([])).size == 0


def test_one_real_effect_among_many_nulls_is_the_only_discovery():
    rng = np.random.default_rng(3)
    n = 20000
    bucket = rng.integers(10, size=n)
    positive = rng.random(n) < np.where(bucket == 4, 0.15, 0.10)
    counts = group(bucket, positive, size=10)

    k, m = counts.positives, counts.totals
    (verdict,), confidence = judge(lifts(k, m, k.sum() - k, m.sum() - m))

    assert np.flatnonzero(verdict.better).tolist() == [4]
    assert not verdict.worse[4]
    assert verdict.low[4] > 1 and confidence > 0.95


def test_on_pure_noise_a_run_finds_something_about_as_often_as_the_false_discovery_rate():
    rng = np.random.default_rng(7)
    runs_with_a_claim = 0
    for _ in range(400):
        bucket = rng.integers(12, size=3000)
        positive = rng.random(3000) < 0.1
        counts = group(bucket, positive, size=12)
        k, m = counts.positives, counts.totals
        (verdict,), confidence = judge(lifts(k, m, k.sum() - k, m.sum() - m))
        runs_with_a_claim += bool((verdict.better | verdict.worse).any())
        assert (confidence > 0) == bool((verdict.better | verdict.worse).any())
    # 5% of 400 is 20; the binomial 99.9% bound is about 35.
    assert runs_with_a_claim <= 35


def test_stratified_comparison_is_not_fooled_by_a_confounder():
    """Hot leads convert more and were mostly given sequence 1: within each tier both sequences do the same."""
    rng = np.random.default_rng(5)
    tier = (rng.random(8000) < 0.5).astype(np.int64)
    sequence = np.where(rng.random(8000) < np.where(tier == 1, 0.8, 0.2), 1, 0)
    converted = rng.random(8000) < np.where(tier == 1, 0.2, 0.05)

    crude = group(sequence, converted, size=2)
    crude_ratio = (crude.positives[1] / crude.totals[1]) / (crude.positives[0] / crude.totals[0])
    fair = stratified_lifts(sequence, converted, tier, 2)

    assert crude_ratio > 1.8
    assert fair.ratio[1] == pytest.approx(1, abs=0.15)
    assert fair.p_values[1] > 0.05


def test_a_held_out_choice_that_does_worse_is_not_activated():
    following = np.arange(1000) < 500
    worse = holdout_check(
        np.where(following, np.arange(1000) % 20 == 0, np.arange(1000) % 5 == 0), following, checked=True
    )
    unchecked = holdout_check(np.zeros(10, bool), np.zeros(10, bool), checked=False)

    assert worse["activated"] is False and worse["interval"][1] < 1
    assert (worse["rate_following"], worse["rate_rest"]) == (0.05, 0.2)
    assert unchecked == {"checked": False, "units": 10, "following": 0, "activated": True}


def test_weights_move_only_when_the_evidence_contradicts_the_weights_in_use():
    rng = np.random.default_rng(11)
    x = rng.random((6000, 4))
    in_use = np.array([0.2, 0.25, 0.25, 0.15])

    def outcome(coefficients):
        return rng.random(6000) < 1 / (1 + np.exp(-(-2.5 + x @ coefficients)))

    agreeing = fit_logistic(x, outcome(4 * in_use))
    contradicting = fit_logistic(x, outcome(np.array([0.0, 0.0, 3.0, 0.0])))

    assert shrinkage(*deviation_statistic(agreeing, in_use)) < 0.3
    assert shrinkage(*deviation_statistic(contradicting, in_use)) > 0.8


def test_the_auc_comparison_sees_a_better_ranking_and_calls_a_tie_a_tie():
    rng = np.random.default_rng(2)
    x = rng.random((3000, 2))
    converted = rng.random(3000) < 1 / (1 + np.exp(-(-3 + 4 * x[:, 0])))

    better = compare_auc(x, converted, np.array([1.0, 0.0]), np.array([0.0, 1.0]))
    same = compare_auc(x, converted, np.array([1.0, 0.0]), np.array([2.0, 0.0]))

    assert better.auc_new > 0.7 > 0.55 > better.auc_current
    assert better.low > 0
    assert (same.auc_new, same.low, same.high) == (same.auc_current, 0.0, 0.0)
    assert compare_auc(x, converted, np.array([0.0, 1.0]), np.array([1.0, 0.0])).high < 0


@pytest.mark.parametrize(
    ("statistic", "degrees", "survival"),
    # Reference values of the chi-square survival function (R: pchisq(x, k, lower.tail = FALSE)).
    [(3.841, 1, 0.05), (5.991, 2, 0.05), (7.815, 3, 0.05), (9.488, 4, 0.05), (1.0, 3, 0.8013), (12.0, 1, 0.000532)],
)
def test_the_chi_square_survival_function_matches_its_tables(statistic, degrees, survival):
    assert chi2_survival(statistic, degrees) == pytest.approx(survival, rel=2e-3)


def test_a_component_every_lead_shares_costs_no_degree_of_freedom():
    """The demo's leads carry no timing signal: its column is constant and must not dilute the tests."""
    rng = np.random.default_rng(5)
    x = np.column_stack([rng.random((1500, 3)), np.zeros(1500)])
    converted = rng.random(1500) < 1 / (1 + np.exp(-(-2.6 + 1.6 * x[:, 2])))
    fit = fit_logistic(x, converted)
    in_use = np.array([0.2, 0.25, 0.25, 0.15])

    among = varying(x)
    statistic, degrees = deviation_statistic(fit, in_use, among)

    assert among.tolist() == [True, True, True, False] and degrees == 2
    assert deviation_statistic(fit, in_use)[1] == 3
    # Counted over the three components that vary, the same evidence moves the weights further and ranks credibly.
    assert shrinkage(statistic, degrees) > shrinkage(*deviation_statistic(fit, in_use))
    assert ranking_evidence(fit, among) >= ranking_evidence(fit)
