"""Batches of a bulk run worked on at once, each worker thread on its own database connection.

A batch of the allocator spends about half its time in Python (planning)
and half in the database (COPY, index and foreign-key checks at commit).
With two workers, one batch's database half runs while the other is planned.
Each worker keeps its own state (the allocator's planners), so workers share
nothing but the list of batches. The caller decides whether it may run them
so (engines.db.features.can_write_alongside): SQLite has one writer, and a
caller's open transaction would not be seen by other connections.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

from django.db import connections

Batch = TypeVar("Batch")
State = TypeVar("State")
Result = TypeVar("Result")


def run_batches(
    batches: Sequence[Batch],
    work: Callable[[Batch, State], Result],
    *,
    state: Callable[[], State],
    workers: int,
) -> Iterator[tuple[Batch, Result]]:
    """Each batch with `work(batch, worker's state)`'s result, as each finishes (in order with one worker, in
    the caller's thread). The first error a batch raises is raised here once the batches already started have
    finished; no further batch starts. Batches done before stay done: each is its own transaction."""
    if workers <= 1 or len(batches) <= 1:
        own = state()
        for batch in batches:
            yield batch, work(batch, own)
        return
    todo: queue.SimpleQueue[Batch] = queue.SimpleQueue()
    for batch in batches:
        todo.put(batch)
    done: queue.SimpleQueue[tuple[Batch, Result] | BaseException | None] = queue.SimpleQueue()
    stop = threading.Event()

    def worker() -> None:
        own = state()
        try:
            while not stop.is_set():
                try:
                    batch = todo.get_nowait()
                except queue.Empty:
                    return
                done.put((batch, work(batch, own)))
        except BaseException as error:  # handed to the caller, who raises it
            stop.set()
            done.put(error)
        finally:
            connections.close_all()  # this thread's own connections
            done.put(None)

    count = min(workers, len(batches))
    threads = [threading.Thread(target=worker, name=f"batch-worker-{n}", daemon=True) for n in range(count)]
    for thread in threads:
        thread.start()
    running, error = len(threads), None
    try:
        while running:
            item = done.get()
            if item is None:
                running -= 1
            elif isinstance(item, BaseException):
                error = error or item
            else:
                yield item
    finally:
        stop.set()  # the caller stopped early, or a batch failed
        for thread in threads:
            thread.join()
    if error is not None:
        raise error
