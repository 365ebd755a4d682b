"""Racing allocations leave exactly one live sequence per lead (real transactions, one connection per thread).

On PostgreSQL the leads' rows are locked (FOR UPDATE, SKIP LOCKED in bulk); on
SQLite the database's write lock serialises the allocations. Either way the
second allocation sees what the first committed.
"""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from engines.services.planning import allocator
from engines.services.planning.allocator import allocate_lead, allocate_leads
from outreach.models import Lead, ScheduledTouch
from tests.factories import ClientFactory, LeadFactory

MONDAY = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)


def race(*jobs):
    """Run the jobs on threads released together; their results, in job order (an exception is a result too)."""
    start = threading.Barrier(len(jobs))
    results: list = [None] * len(jobs)

    def run(index, job):
        try:
            start.wait()
            results[index] = job()
        except Exception as error:  # the test asserts on it
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def both_planned_before_either_locks(monkeypatch):
    """Hold each allocation at the lead lock until both have planned, so the two runs truly overlap."""
    planned = threading.Barrier(2)
    lock = allocator.lock_leads

    def lock_after_both_planned(*args, **kwargs):
        planned.wait(timeout=30)
        return lock(*args, **kwargs)

    monkeypatch.setattr(allocator, "lock_leads", lock_after_both_planned)


def live_sequences(lead):
    touches = ScheduledTouch.objects.filter(lead=lead, status__in=("planned", "waiting", "sending"))
    return set(touches.values_list("sequence_id", flat=True))


@pytest.mark.django_db(transaction=True)
def test_two_threads_allocating_one_lead_leave_one_sequence(monkeypatch):
    lead = LeadFactory()
    both_planned_before_either_locks(monkeypatch)

    results = race(*(lambda: allocate_lead(Lead.objects.get(pk=lead.pk), now=MONDAY) for _ in range(2)))

    assert sorted(result["created"] for result in results) == [False, True]
    assert results[0]["sequence_id"] == results[1]["sequence_id"]
    assert {str(s) for s in live_sequences(lead)} == {results[0]["sequence_id"]}
    assert ScheduledTouch.objects.filter(lead=lead).count() == 6
    assert not ScheduledTouch.objects.filter(status="cancelled").exists()


@pytest.mark.django_db(transaction=True)
def test_two_racing_replans_cancel_the_old_plan_but_not_each_others(monkeypatch):
    lead = LeadFactory()
    old = allocate_lead(lead, now=MONDAY)
    both_planned_before_either_locks(monkeypatch)

    later = MONDAY + timedelta(days=1)
    results = race(*(lambda: allocate_lead(Lead.objects.get(pk=lead.pk), now=later, replan=True) for _ in range(2)))

    assert sorted(result["created"] for result in results) == [False, True]
    (fresh,) = live_sequences(lead)
    assert {result["sequence_id"] for result in results} == {str(fresh)}
    cancelled = ScheduledTouch.objects.filter(lead=lead, status="cancelled")
    assert {str(s) for s in cancelled.values_list("sequence_id", flat=True)} == {old["sequence_id"]}
    assert cancelled.count() == 6


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_bulk_runs_plan_each_lead_once_and_cancel_nothing():
    client = ClientFactory()
    leads = LeadFactory.create_batch(120, client=client)
    LeadFactory.create_batch(5, client=client, do_not_contact=True)

    results = race(*(lambda: allocate_leads(client.leads.all(), now=MONDAY, batch_size=10) for _ in range(2)))

    assert not [result for result in results if isinstance(result, Exception)]
    assert sum(result["allocated"] for result in results) == 120
    assert sum(result["cancelled"] for result in results) == 0
    assert all(result["blocked"] + result["allocated"] + result["skipped"] == 125 for result in results)
    for lead in leads:
        assert len(live_sequences(lead)) == 1
    assert ScheduledTouch.objects.count() == 120 * 6
    assert not ScheduledTouch.objects.filter(status="cancelled").exists()


@pytest.mark.django_db(transaction=True)
def test_a_bulk_run_and_single_allocations_racing_leave_one_sequence_per_lead():
    client = ClientFactory()
    leads = LeadFactory.create_batch(40, client=client)

    def singles():
        return [allocate_lead(Lead.objects.get(pk=lead.pk), now=MONDAY)["created"] for lead in reversed(leads)]

    bulk, created = race(lambda: allocate_leads(client.leads.all(), now=MONDAY, batch_size=7), singles)

    assert bulk["allocated"] + sum(created) == 40
    for lead in leads:
        assert len(live_sequences(lead)) == 1
    assert ScheduledTouch.objects.count() == 40 * 6
