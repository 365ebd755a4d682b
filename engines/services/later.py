"""Work a stage hands on without importing who does it: the one seam between a stage and later work.

A stage never imports a later stage and never names a task by a string. What
it needs done later goes through this small typed registry, filled at
start-up (engines.apps.EnginesConfig.ready):

- the *queue* of background work, set by engines.tasks (django-q2 tasks):
  score and plan imported leads, score one lead, plan one lead, rescore or
  re-plan a client;
- *hooks* run in the caller's process: `after_sends_recorded` (the outcomes
  stage applies provider statuses that arrived before their send was
  recorded) and `before_dispatch_run` (its sweep of those still parked),
  connected by engines.signals.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

from django.core.exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    from outreach.models import Activity


class Queue(Protocol):
    """Background work, each call enqueued as one task that re-fetches by id."""

    def score_and_plan_leads(self, client_id: int, lead_ids: Sequence[int]) -> None: ...
    def score_lead(self, lead_id: int) -> None: ...
    def plan_lead(self, lead_id: int) -> None: ...
    def rescore_client(self, client_id: int) -> None: ...
    def replan_client(self, client_id: int) -> None: ...


_queue: Queue | None = None


def set_queue(queue: Queue) -> None:
    global _queue
    _queue = queue


def queue() -> Queue:
    """The registered queue; engines.apps registers django-q2's at start-up."""
    if _queue is None:
        raise ImproperlyConfigured("no work queue registered: the engines app sets one in its ready()")
    return _queue


Arg = TypeVar("Arg")


class Hooks(Generic[Arg]):
    """Functions of one argument, called in the order they were connected; connecting twice is harmless."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._hooks: list[Callable[[Arg], object]] = []

    def connect(self, hook: Callable[[Arg], object]) -> None:
        if hook not in self._hooks:
            self._hooks.append(hook)

    def __contains__(self, hook: object) -> bool:
        return hook in self._hooks

    def __len__(self) -> int:
        return len(self._hooks)

    def run(self, arg: Arg) -> None:
        for hook in self._hooks:
            hook(arg)


after_sends_recorded: Hooks[Sequence[Activity]] = Hooks("after sends are recorded")
before_dispatch_run: Hooks[datetime] = Hooks("before a dispatcher run")
