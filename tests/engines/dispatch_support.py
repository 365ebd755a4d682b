"""Two dispatchers at once on PostgreSQL, each holding its batch before either locks the batch's clients: what a
daily cap (a company's, a mailbox's) must hold against."""

import threading
from datetime import datetime

import pytest
from django.db import connection

from engines.services.sending.dispatcher import dispatch_due_touches
from outreach.models import Client


def two_dispatchers_at_once(monkeypatch: pytest.MonkeyPatch, now: datetime, *, batch_size: int) -> list[dict[str, int]]:
    """The counts of two dispatch runs on two connections. Each claims its batch (SKIP LOCKED: `batch_size`
    touches each) and waits at a barrier for the other before it locks the clients, so without that lock both
    would count the day's sends with the other's claims open; with it they count in turn."""
    both_hold_a_batch = threading.Barrier(2, timeout=30)
    first_batch = threading.local()
    lock_clients = Client.objects.select_for_update

    def lock_after_both_hold_a_batch(*args: object, **kwargs: object) -> object:
        if not getattr(first_batch, "done", False):
            first_batch.done = True
            both_hold_a_batch.wait()
        return lock_clients(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Client.objects, "select_for_update", lock_after_both_hold_a_batch)
    results: list[dict[str, int]] = []

    def run() -> None:
        try:
            results.append(dispatch_due_touches(now=now, threads=1, batch_size=batch_size))
        finally:
            connection.close()

    workers = [threading.Thread(target=run) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return results
