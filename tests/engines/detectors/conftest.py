"""Planted-truth data shared by the detector tests: generated once for the package, removed after it."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from engines.simulation.synthetic import PlantedTruth, SyntheticClient, generate_client
from outreach.models import Client

NOW = datetime(2026, 3, 4, 6, 0, tzinfo=UTC)
# Weights that rank by company fit: right for the recent leads of drifted_history, wrong for the older ones.
FIT_WEIGHTS = {"data_quality": 0.05, "authority": 0.05, "company_fit": 0.5, "timing": 0.25}
AUTHORITY_ONLY = PlantedTruth(fit_coefficient=0.0, authority_coefficient=4.0, timing_coefficient=0.0)
FIT_ONLY = PlantedTruth(fit_coefficient=4.0, authority_coefficient=0.0, timing_coefficient=0.0)


def drifted_history() -> Client:
    """An agency whose buyers changed: seniority decided who booked until 40 days before NOW, company fit since.

    Its own weights (the weights in use) are FIT_WEIGHTS.
    """
    client = generate_client(n_leads=700, seed=31, now=NOW - timedelta(days=40), days=50, truth=AUTHORITY_ONLY).client
    generate_client(n_leads=700, seed=32, now=NOW, days=40, truth=FIT_ONLY, client=client, engagement=False)
    Client.objects.filter(pk=client.pk).update(als_learned_weights=FIT_WEIGHTS)
    client.refresh_from_db()
    return client


@dataclass(frozen=True)
class Planted:
    train: SyntheticClient
    holdout: SyntheticClient


@pytest.fixture(scope="package")
def planted(django_db_setup, django_db_blocker):
    """A client of 3,000 leads following synthetic.PLANTED, and a second one (other seed) to test on."""
    with django_db_blocker.unblock():
        data = Planted(
            train=generate_client(n_leads=3000, seed=11, now=NOW, name="planted"),
            holdout=generate_client(n_leads=1500, seed=12, now=NOW, name="holdout"),
        )
    yield data
    with django_db_blocker.unblock():
        Client.objects.filter(pk__in=[data.train.client.pk, data.holdout.client.pk]).delete()
