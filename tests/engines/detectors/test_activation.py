"""Activation: a WHO pattern is put to use only when it ranks the most recent finished leads no worse."""

from datetime import timedelta

import pytest

from engines.services.learning import detect
from engines.services.patterns import get_active_pattern
from engines.services.scoring.lead_score import resolve_weights
from outreach.models import Client, ConversionPattern
from tests.engines.detectors.conftest import FIT_WEIGHTS, NOW, drifted_history

pytestmark = pytest.mark.django_db


@pytest.fixture
def drifted() -> Client:
    return drifted_history()


def test_weights_worse_on_the_newest_leads_are_stored_but_not_activated(drifted):
    result = detect("who", drifted, now=NOW)

    pattern = result.pattern
    check = pattern.patterns["activation"]
    assert result.saved and not pattern.activated
    assert check["activated"] is False
    assert check["auc_new"] < check["auc_current"] and check["interval"][1] < 0
    assert check["leads"] > 0
    assert pattern.patterns["recommended_weights"]["authority"] > FIT_WEIGHTS["authority"]
    assert "not activated" in result.reason
    # The weights in use stay in use: the client's own, not the stored pattern's.
    assert Client.objects.get(pk=drifted.pk).als_learned_weights == FIT_WEIGHTS
    assert resolve_weights(drifted, now=NOW + timedelta(hours=1)) == (FIT_WEIGHTS, "client")
    assert get_active_pattern(drifted, "who", now=NOW + timedelta(hours=1)) is None
    assert ConversionPattern.objects.filter(client=drifted, pattern_type="who", activated=False).count() == 1
