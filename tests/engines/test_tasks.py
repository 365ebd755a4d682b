import logging
from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.conf import Conf
from django_q.models import Task

from engines import tasks
from engines.simulation.synthetic import generate_client
from outreach.models import ConversionPattern, Lead, ScheduledTouch
from tests.factories import ClientFactory, LeadFactory, MessageTemplateFactory, ScheduledTouchFactory

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


# --- the engines' own tasks: each re-fetches, returns early when nothing is left, calls one service ----------


def test_scoring_a_lead_that_is_gone_does_nothing():
    lead = LeadFactory()
    lead_id = lead.pk
    lead.delete()

    assert tasks.score_one_lead(lead_id) is None


def test_a_lead_is_scored_by_id():
    lead = LeadFactory(title="CEO")

    score = tasks.score_one_lead(lead.pk)

    lead.refresh_from_db()
    assert score == lead.als_score and lead.scored_at is not None


def test_a_lead_already_planned_is_not_allocated_again():
    lead = LeadFactory(als_score=70)
    ScheduledTouchFactory(lead=lead)

    assert tasks.allocate_one_lead(lead.pk) is None
    assert ScheduledTouch.objects.filter(lead=lead).count() == 1


def test_a_scored_new_lead_is_allocated_once_and_a_duplicated_task_changes_nothing():
    lead = LeadFactory(als_score=70)

    plan = tasks.allocate_one_lead(lead.pk)
    planned = set(ScheduledTouch.objects.filter(lead=lead, status="planned").values_list("pk", flat=True))
    again = tasks.allocate_one_lead(lead.pk)

    assert plan["lead_id"] == lead.pk and planned
    assert again is None
    assert set(ScheduledTouch.objects.filter(lead=lead, status="planned").values_list("pk", flat=True)) == planned


@pytest.mark.parametrize("fields", [{"status": "converted"}, {"do_not_contact": True}, {"als_score": None}])
def test_a_lead_that_should_not_be_planned_is_left_alone(fields):
    lead = LeadFactory(**{"als_score": 70, **fields})

    assert tasks.allocate_one_lead(lead.pk) is None
    assert not ScheduledTouch.objects.filter(lead=lead).exists()


def test_client_tasks_skip_a_deleted_client():
    client = ClientFactory()
    client_id = client.pk
    client.delete()

    assert tasks.rescore_client_leads(client_id) is None
    assert tasks.replan_client_touches(client_id) is None


def test_rescoring_a_client_scores_its_open_leads_and_plans_the_new_unplanned_ones():
    client = ClientFactory()
    fresh = LeadFactory(client=client)
    closed = LeadFactory(client=client, status="closed")

    counts = tasks.rescore_client_leads(client.pk)

    assert counts["scored"] == 1 and counts["allocated"] == 1
    assert Lead.objects.get(pk=fresh.pk).als_score is not None
    assert Lead.objects.get(pk=closed.pk).als_score is None
    assert ScheduledTouch.objects.filter(lead=fresh, status="planned").exists()


def test_the_dispatch_task_sends_what_is_due(settings):
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    touch = ScheduledTouchFactory(scheduled_at=timezone.now() - timedelta(minutes=5))
    MessageTemplateFactory(client=touch.client, channel="email", touch_number=1)

    counts = tasks.dispatch_touches()

    assert counts["sent"] == 1
    assert ScheduledTouch.objects.get(pk=touch.pk).status == "sent"
