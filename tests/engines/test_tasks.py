import logging

import pytest
from django_q.conf import Conf
from django_q.models import Task

from engines import tasks
from engines.simulation.synthetic import generate_client
from outreach.models import ConversionPattern
from tests.factories import ClientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def sync_queue(monkeypatch):
    """Run enqueued tasks inline, through django-q2's own worker (Q_CLUSTER is read once, at import)."""
    monkeypatch.setattr(Conf, "SYNC", True)


def test_a_client_s_patterns_are_detected_and_their_ids_returned():
    client = generate_client(n_leads=500, seed=5).client

    saved = tasks.detect_client_patterns(client.pk)

    assert set(saved) == {"who", "what", "when", "how"}
    assert set(saved.values()) == set(ConversionPattern.objects.filter(client=client).values_list("pk", flat=True))


def test_a_client_without_evidence_gets_nothing():
    assert tasks.detect_client_patterns(ClientFactory().pk) == {}


def test_a_deleted_client_is_skipped():
    client = ClientFactory()
    client_id = client.pk
    client.delete()

    assert tasks.detect_client_patterns(client_id) is None


def test_the_nightly_job_runs_every_client_and_one_failure_does_not_stop_the_others(sync_queue, monkeypatch, caplog):
    broken, healthy = generate_client(n_leads=500, seed=5).client, generate_client(n_leads=500, seed=6).client
    empty = ClientFactory()
    detect = tasks.detect_patterns

    def failing_for_broken(client):
        if client.pk == broken.pk:
            raise RuntimeError("corrupt data")
        return detect(client)

    monkeypatch.setattr(tasks, "detect_patterns", failing_for_broken)

    with caplog.at_level(logging.ERROR):
        enqueued = tasks.detect_patterns_for_all_clients()

    assert enqueued == 3
    assert not ConversionPattern.objects.filter(client=broken).exists()
    assert ConversionPattern.objects.filter(client=healthy).count() == 4
    assert not ConversionPattern.objects.filter(client=empty).exists()
    assert f"pattern detection failed for client {broken.pk}" in caplog.text
    assert "corrupt data" in caplog.text
    assert set(Task.objects.filter(success=True, group="detect_patterns").values_list("name", flat=True)) == {
        f"detect patterns of client {healthy.pk}",
        f"detect patterns of client {empty.pk}",
    }
