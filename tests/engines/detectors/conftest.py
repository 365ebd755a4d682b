"""Planted-truth data shared by the detector tests: generated once for the package, removed after it."""

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from engines.simulation.synthetic import SyntheticClient, generate_client
from outreach.models import Client

NOW = datetime(2026, 3, 4, 6, 0, tzinfo=UTC)


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
