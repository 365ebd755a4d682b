"""Batches worked on at once: each exactly once, each worker with its own state and connection; on PostgreSQL
outside a transaction the allocator plans two batches at once, elsewhere one after another."""

import threading
from datetime import UTC, datetime

import numpy as np
import pytest
from django.db import connection

from engines.db.features import can_write_alongside
from engines.services.planning import allocator
from engines.services.planning.allocator import allocate_leads
from engines.services.planning.workers import run_batches
from outreach.models import Enrollment, ScheduledTouch
from tests.factories import ClientFactory, LeadFactory

MONDAY = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)


def test_one_worker_runs_the_batches_in_order_in_the_callers_thread_with_one_state():
    seen = []

    def work(batch, state):
        state.append(batch)
        seen.append((batch, threading.current_thread()))
        return batch * 10

    assert list(run_batches([1, 2, 3], work, state=list, workers=1)) == [(1, 10), (2, 20), (3, 30)]
    assert seen == [(batch, threading.current_thread()) for batch in (1, 2, 3)]


def test_two_workers_run_at_once_each_batch_once_each_with_its_own_state():
    both_running = threading.Barrier(2, timeout=10)  # broken (and the test failed) unless two run at once
    states = []

    def state():
        own: list[int] = []
        states.append(own)
        return own

    def work(batch, own):
        if batch in (1, 2):
            both_running.wait()
        own.append(batch)
        return threading.current_thread().name

    results = dict(run_batches([1, 2, 3, 4, 5], work, state=state, workers=2))

    assert sorted(results) == [1, 2, 3, 4, 5]
    assert results[1] != results[2] and threading.current_thread().name not in results.values()
    assert len(states) == 2 and sorted(batch for own in states for batch in own) == [1, 2, 3, 4, 5]
    assert not [thread for thread in threading.enumerate() if thread.name.startswith("batch-worker")]


def test_an_error_is_raised_once_the_batch_running_beside_it_has_finished():
    both_running = threading.Barrier(2, timeout=10)
    finished = []

    def work(batch, _):
        both_running.wait()
        if batch == 1:
            raise ValueError("batch 1 is broken")
        finished.append(batch)
        return batch

    with pytest.raises(ValueError, match="batch 1 is broken"):
        list(run_batches([1, 2], work, state=dict, workers=2))
    assert finished == [2]
    assert not [thread for thread in threading.enumerate() if thread.name.startswith("batch-worker")]


@pytest.mark.django_db(transaction=True)
def test_the_allocator_plans_two_batches_at_once_where_the_database_allows_it(monkeypatch):
    client = ClientFactory(timezone="Australia/Sydney")
    leads = LeadFactory.create_batch(12, client=client, timezone="Australia/Sydney", country="Australia")
    alongside = can_write_alongside()
    assert alongside is (connection.vendor == "postgresql")
    locking_threads, calls = set(), []
    two_at_once = threading.Barrier(2, timeout=30)
    lock = allocator.lock_leads

    def lock_leads(*args, **kwargs):
        locking_threads.add(threading.current_thread().name)
        calls.append(1)
        if alongside and len(calls) <= 2:
            two_at_once.wait()  # the first two batches hold their transactions at the same time
        return lock(*args, **kwargs)

    monkeypatch.setattr(allocator, "lock_leads", lock_leads)

    counts = allocate_leads(client.leads.all(), now=MONDAY, batch_size=5)

    assert counts["allocated"] == 12 and counts["skipped"] == 0
    assert sorted(Enrollment.objects.values_list("lead_id", flat=True)) == sorted(lead.pk for lead in leads)
    assert ScheduledTouch.objects.count() == counts["touches"]
    if alongside:
        assert len(locking_threads) == 2 and threading.current_thread().name not in locking_threads
    else:
        assert locking_threads == {threading.current_thread().name}


@pytest.mark.django_db(transaction=True)
def test_a_given_rng_plans_one_batch_after_another_so_its_draws_repeat(monkeypatch):
    client = ClientFactory(timezone="Australia/Sydney", exploration_rate=0.5)
    LeadFactory.create_batch(8, client=client, timezone="Australia/Sydney", country="Australia")
    threads = set()
    lock = allocator.lock_leads

    def lock_leads(*args, **kwargs):
        threads.add(threading.current_thread().name)
        return lock(*args, **kwargs)

    monkeypatch.setattr(allocator, "lock_leads", lock_leads)

    allocate_leads(client.leads.all(), now=MONDAY, batch_size=3, rng=np.random.default_rng(7))

    assert threads == {threading.current_thread().name}
