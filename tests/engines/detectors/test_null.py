"""On data where nothing matters the detectors must find nothing: the null mode of the generator, over six seeds.

Each seed is an agency of NULL_LEADS leads with the planted generator's volumes
but outcomes independent of everything. The false discovery rate is 5% per
detector and run, so a run may rarely name something: each claim must hold in
at least five runs of six, and WHO's weights must stay near the weights in use
in every run.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from engines.rules.pattern_checks import WEIGHT_KEYS
from engines.services.learning import run_detectors
from engines.services.scoring.lead_score import DEFAULT_WEIGHTS
from engines.simulation.synthetic import NULL, generate_client
from outreach.models import Client

NOW = datetime(2026, 3, 4, 6, 0, tzinfo=UTC)
SEEDS = (101, 102, 103, 104, 105, 106)
NULL_LEADS = 700

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class NullRun:
    who: dict
    what: dict
    when: dict
    how: dict


@pytest.fixture(scope="module")
def null_runs(django_db_setup, django_db_blocker) -> Iterator[list[NullRun]]:
    """The patterns learned from each seed's null agency (saved in the first run, removed after the module)."""
    runs, clients = [], []
    with django_db_blocker.unblock():
        for seed in SEEDS:
            client = generate_client(n_leads=NULL_LEADS, seed=seed, now=NOW, truth=NULL, engagement=False).client
            clients.append(client.pk)
            results = run_detectors(client, now=NOW)
            assert all(result.saved for result in results.values()), {t: r.reason for t, r in results.items()}
            runs.append(NullRun(**{t: r.pattern.patterns for t, r in results.items() if r.pattern is not None}))
    yield runs
    with django_db_blocker.unblock():
        Client.objects.filter(pk__in=clients).delete()


def at_least_five_of_six(claims: list[bool]) -> bool:
    return len(claims) == len(SEEDS) and sum(claims) >= 5


def test_who_weights_stay_near_the_weights_in_use_and_claim_no_ranking(null_runs):
    for run in null_runs:
        weights = run.who["recommended_weights"]
        assert run.who["model"]["weights_in_use"] == DEFAULT_WEIGHTS
        assert sum(abs(weights[key] - DEFAULT_WEIGHTS[key]) for key in WEIGHT_KEYS) <= 0.10
        assert run.who["model"]["shrinkage_toward_learned"] < 0.2
    assert at_least_five_of_six([run.who["confidence"] == 0 for run in null_runs])
    for run in null_runs:
        if run.who["confidence"] == 0:  # stored for the record, never put to use, and the pattern says why
            assert run.who["activation"]["activated"] is False
            assert "do not credibly rank" in run.who["activation"]["reason"]


def test_when_names_no_best_day_or_hour(null_runs):
    claims = [not run.when["best_days"] and not run.when["best_hours"] for run in null_runs]

    assert at_least_five_of_six(claims), [run.when["best_days"] + run.when["best_hours"] for run in null_runs]
    for run, nothing in zip(null_runs, claims, strict=True):
        if nothing:
            assert set(run.when["no_preference"]) == {"best_days", "best_hours"}
            assert run.when["confidence"] == 0
            assert len(run.when["day_arms"]) >= 5


def test_how_names_no_first_channel_or_winning_sequence(null_runs):
    claims = [run.how["best_first_channel"] is None and not run.how["winning_sequences"] for run in null_runs]

    assert at_least_five_of_six(claims), [run.how["winning_sequences"] for run in null_runs]
    for run, nothing in zip(null_runs, claims, strict=True):
        if nothing:
            assert set(run.how["no_preference"]) == {"best_first_channel", "winning_sequences"}
            # The strategies are still there to explore: five planned, each with its counts.
            assert len(run.how["arms"]) == 5


def test_what_flags_nothing(null_runs):
    def flags(pattern: dict) -> list[str]:
        groups = [pattern] + list(pattern["by_channel"].values())
        parts = [g[part] for g in groups for part in ("pain_points", "ctas", "personalization")]
        return [name for part in parts for name in part["effective"] + part["ineffective"]] + list(
            pattern["optimal_length"]
        )

    claims = [not flags(run.what) for run in null_runs]

    assert at_least_five_of_six(claims), [flags(run.what) for run in null_runs]
    for run in null_runs:
        judged = sum(len(run.what[part]["lift"]) for part in ("pain_points", "ctas", "personalization"))
        assert run.what["evidence"]["tests"] >= judged >= 10
