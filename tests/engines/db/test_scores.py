"""Writing a batch of scores: the same stored values on PostgreSQL (arrays, JSON built there) and SQLite."""

from datetime import UTC, datetime

import numpy as np
import pytest

from engines.db.scores import ScoreBatch, write_scores
from outreach.models import Lead
from tests.factories import ClientFactory, LeadFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)
KEYS = ("data_quality", "authority", "company_fit", "timing", "risk")


def batch(leads, client_of_row, weights, sources, *, scores=None):
    n = len(leads)
    return ScoreBatch(
        pks=[lead.pk for lead in leads],
        scores=np.array(scores if scores is not None else [10 * (i + 1) for i in range(n)]),
        components={key: np.arange(n, dtype=np.int64) + k for k, key in enumerate(KEYS)},
        client_of_row=np.array(client_of_row),
        weights=weights,
        sources=sources,
        now=NOW,
    )


def test_each_lead_gets_its_score_components_and_its_clients_weights():
    first, second = ClientFactory(), ClientFactory()
    leads = [LeadFactory(client=first), LeadFactory(client=second), LeadFactory(client=first)]
    untouched = LeadFactory(client=first)
    weights = [{"data_quality": 0.1, "authority": 0.2, "company_fit": 0.3, "timing": 0.4}, {"data_quality": 0.25}]

    assert write_scores(batch(leads, [0, 1, 0], weights, ["pattern", "default"])) == 3

    stored = Lead.objects.in_bulk([lead.pk for lead in leads])
    for i, lead in enumerate(leads):
        row = stored[lead.pk]
        assert row.als_score == 10 * (i + 1)
        assert row.als_components == {**{key: i + k for k, key in enumerate(KEYS)}, "scored_at": NOW.isoformat()}
        client = [0, 1, 0][i]
        assert (row.als_weights_used, row.als_weights_source) == (weights[client], ["pattern", "default"][client])
        assert row.scored_at == NOW
    assert Lead.objects.get(pk=untouched.pk).als_score is None


def test_a_lead_gone_meanwhile_is_not_counted():
    leads = [LeadFactory(), LeadFactory()]
    Lead.objects.filter(pk=leads[1].pk).delete()
    assert write_scores(batch(leads, [0, 0], [{"timing": 1.0}], ["client"])) == 1
    assert Lead.objects.get(pk=leads[0].pk).als_weights_used == {"timing": 1.0}


def test_an_empty_batch_updates_nothing():
    assert write_scores(batch([], [], [], [])) == 0
