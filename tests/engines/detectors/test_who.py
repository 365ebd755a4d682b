from datetime import timedelta

import numpy as np
import pytest
from django.db.models import Q

from engines.rules.pattern_checks import WEIGHT_KEYS, pattern_errors
from engines.services.learning import detect
from engines.services.learning.evidence import IN_FLIGHT, SETTLE_DAYS, WINDOW_DAYS, load_evidence
from engines.services.learning.stats import MIN_BUCKET
from engines.services.learning.weights import fit_logistic, weights_from_coefficients
from engines.services.scoring.lead_score import COMPONENT_MAX, DEFAULT_WEIGHTS, validate_weights
from engines.simulation.synthetic import ICP, generate_client
from outreach.models import Client, ConversionPattern, Lead
from outreach.models.choices import SENT_ACTIONS
from tests.engines.detectors.conftest import NOW

pytestmark = pytest.mark.django_db


def auc(scores: np.ndarray, converted: np.ndarray) -> float:
    """Probability that a converting lead outscores a non-converting one (ties count half)."""
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    ranks = (np.cumsum(counts) - (counts - 1) / 2)[inverse]
    positives, negatives = converted.sum(), (~converted).sum()
    return float((ranks[converted].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def test_company_fit_gets_the_largest_weight(planted):
    result = detect("who", planted.train.client, now=NOW)

    weights = result.pattern.patterns["recommended_weights"]
    assert pattern_errors("who", result.pattern.patterns) == []
    assert validate_weights(weights)
    assert max(weights, key=weights.get) == "company_fit"
    assert weights["company_fit"] > DEFAULT_WEIGHTS["company_fit"]


def test_saved_weights_become_the_clients_fallback_weights(planted):
    result = detect("who", planted.train.client, now=NOW)

    stored = Client.objects.get(pk=planted.train.client.pk).als_learned_weights
    assert stored == result.pattern.patterns["recommended_weights"]


def test_learned_weights_rank_held_out_leads_better_than_the_defaults(planted):
    learned = detect("who", planted.train.client, now=NOW).pattern.patterns["recommended_weights"]
    evidence = load_evidence(planted.holdout.client, now=NOW)
    finished = evidence.lead_state != IN_FLIGHT
    components = dict(
        Lead.objects.filter(pk__in=evidence.lead_ids[finished].tolist()).values_list("pk", "als_components")
    )
    x = np.array(
        [
            [components[pk][key] / COMPONENT_MAX[key] for key in WEIGHT_KEYS]
            for pk in evidence.lead_ids[finished].tolist()
        ]
    )
    converted = evidence.lead_state[finished] == 1

    def score(weights):
        return x @ np.array([weights[key] for key in WEIGHT_KEYS])

    assert auc(score(learned), converted) > auc(score(DEFAULT_WEIGHTS), converted)


def test_rates_follow_the_planted_profile(planted):
    rates = detect("who", planted.train.client, now=NOW).pattern.patterns["conversion_rate_by"]

    by_lift = sorted(rates["industry"], key=lambda industry: -rates["industry"][industry]["lift"])
    assert set(by_lift[:2]) == set(ICP["industries"])
    assert all(rates["industry"][industry]["lift"] > 1.2 for industry in ICP["industries"])
    assert rates["seniority"]["owner"]["conversion_rate"] > rates["seniority"]["other"]["conversion_rate"]
    assert rates["company_size"]["11-50"]["lift"] > 1 > rates["company_size"]["1001+"]["lift"]
    assert rates["timing_signal"]["is_new_role"]["lift"] > rates["timing_signal"]["none"]["lift"]
    assert all(entry["sample_size"] >= MIN_BUCKET for group in rates.values() for entry in group.values())


def test_only_finished_leads_count_and_every_booking_is_one(planted):
    client = planted.train.client
    touched = Lead.objects.filter(
        client=client,
        activities__action__in=SENT_ACTIONS,
        activities__created_at__gte=NOW - timedelta(days=WINDOW_DAYS),
    ).distinct()
    in_flight = (
        touched.exclude(status="converted")
        .filter(Q(scheduled_touches__status="planned") | Q(last_contacted_at__gt=NOW - timedelta(days=SETTLE_DAYS)))
        .distinct()
    )

    pattern = detect("who", client, now=NOW).pattern.patterns

    assert in_flight.exists()
    assert pattern["sample_size"] == touched.count() - in_flight.count()
    assert pattern["conversions"] == Lead.objects.filter(client=client, status="converted").count()


def test_weights_move_away_from_the_defaults_in_proportion_to_the_evidence(planted):
    big = detect("who", planted.train.client, now=NOW).pattern.patterns
    small = detect("who", generate_client(n_leads=400, seed=5, now=NOW).client, now=NOW).pattern.patterns

    for pattern in (big, small):
        strength = pattern["model"]["shrinkage_toward_learned"]
        for key in WEIGHT_KEYS:
            blended = strength * pattern["model"]["learned_weights"][key] + (1 - strength) * DEFAULT_WEIGHTS[key]
            assert pattern["recommended_weights"][key] == pytest.approx(blended, abs=0.002)
    assert small["model"]["shrinkage_toward_learned"] < 0.5 < big["model"]["shrinkage_toward_learned"]
    assert big["confidence"] > 0.95

    def distance(pattern):
        return sum(abs(pattern["recommended_weights"][key] - DEFAULT_WEIGHTS[key]) for key in WEIGHT_KEYS)

    assert distance(small) < distance(big)


def test_tiny_data_saves_nothing():
    client = generate_client(n_leads=40, seed=3, now=NOW).client

    result = detect("who", client, now=NOW)

    assert not result.saved
    assert "finished leads" in result.reason
    assert not ConversionPattern.objects.filter(client=client).exists()
    assert Client.objects.get(pk=client.pk).als_learned_weights is None


def test_weights_follow_the_coefficients_inside_the_bounds():
    proportional = weights_from_coefficients(np.array([1.0, 1.2, 1.5, 0.8]), fallback=DEFAULT_WEIGHTS)
    dominant = weights_from_coefficients(np.array([0.0, 0.1, 5.0, -2.0]), fallback=DEFAULT_WEIGHTS)

    assert proportional == pytest.approx(
        {"data_quality": 0.1889, "authority": 0.2267, "company_fit": 0.2833, "timing": 0.1511}, abs=1e-4
    )
    # The excess over the 0.50 cap is shared equally by the others (Euclidean projection).
    assert dominant["company_fit"] == pytest.approx(0.5)
    assert dominant["data_quality"] == pytest.approx(dominant["timing"])
    assert dominant["authority"] - dominant["data_quality"] == pytest.approx(0.85 * 0.1 / 5.1)
    for weights in (proportional, dominant):
        assert sum(weights.values()) == pytest.approx(0.85)
        assert validate_weights(weights)


def test_no_helpful_component_leaves_the_weights_in_use():
    in_use = {"data_quality": 0.1, "authority": 0.2, "company_fit": 0.35, "timing": 0.2}

    assert weights_from_coefficients(np.array([-1.0, 0.0, -0.5, -3.0]), fallback=in_use) == in_use


def test_the_regression_recovers_known_coefficients():
    rng = np.random.default_rng(0)
    x = rng.random((20000, 4))
    truth = np.array([0.0, 1.0, 3.0, -1.0])
    y = rng.random(20000) < 1 / (1 + np.exp(-(-2 + x @ truth)))

    fit = fit_logistic(x, y)

    assert fit.intercept == pytest.approx(-2, abs=0.15)
    assert fit.coefficients == pytest.approx(truth, abs=0.2)
    # The standard errors are those of the fit: about 95% of such fits land within 1.96 of them.
    assert np.all(np.abs(fit.coefficients - truth) < 3 * fit.standard_errors)
    assert np.all(fit.standard_errors < 0.2)
