"""django-q2 entry points: take ids, re-fetch, return early when nothing is left, call one service.

`TaskQueue` is the queue of engines.services.later: the stages hand work on through it, and it
enqueues these functions, named by their own import path (never a string typed by hand).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from django_q.tasks import async_task

from engines.exceptions import NotPlannable
from engines.services.deliverability import mailboxes
from engines.services.journey import triggers
from engines.services.learning import detect_patterns
from engines.services.planning.allocator import allocate_lead
from engines.services.planning.plan import Allocation
from engines.services.scoring.lead_score import score_lead
from engines.services.sending import dispatcher
from outreach.models import Client, Lead

logger = logging.getLogger(__name__)


def detect_client_patterns(client_id: int) -> dict[str, int] | None:
    """Learn and save one client's patterns; the saved pattern ids by type, or None when the client is gone."""
    client = Client.objects.filter(pk=client_id).first()
    if client is None:
        return None
    return {pattern_type: pattern.pk for pattern_type, pattern in detect_patterns(client).items()}


def detect_patterns_for_all_clients() -> int:
    """The nightly job: one detection task per client, so one client's failure never stops the others.

    On a cluster each failure is recorded by django-q2 as a failed task; when
    tasks run inline (Q_SYNC) the failure surfaces here and is logged. Returns
    how many clients were handed out.
    """
    client_ids = list(Client.objects.order_by("pk").values_list("pk", flat=True))
    for client_id in client_ids:
        try:
            async_task(
                task_path(detect_client_patterns),
                client_id,
                task_name=f"detect patterns of client {client_id}",
                group="detect_patterns",
            )
        except Exception:
            logger.exception("pattern detection failed for client %s", client_id)
    return len(client_ids)


def score_and_plan_imported_leads(client_id: int, lead_ids: list[int]) -> dict[str, int] | None:
    """Score and plan the leads one import created or updated; None when the client is gone."""
    client = Client.objects.filter(pk=client_id).first()
    if client is None:
        return None
    return triggers.score_and_plan_leads(client, lead_ids)


def score_one_lead(lead_id: int) -> int | None:
    """Score one lead (its save then triggers its allocation); None when the lead is gone."""
    lead = Lead.objects.select_related("client").filter(pk=lead_id).first()
    if lead is None:
        return None
    return score_lead(lead)


def allocate_one_lead(lead_id: int) -> Allocation | None:
    """Plan one lead's sequence; None when it is gone, already planned, or cannot be contacted."""
    lead = Lead.objects.select_related("client").filter(pk=lead_id).first()
    if lead is None or not triggers.wants_allocation(lead):
        return None
    try:
        return allocate_lead(lead)
    except NotPlannable as exc:
        logger.info("lead %s not planned: %s", lead_id, exc.reason)
        return None


def rescore_client_leads(client_id: int) -> dict[str, int] | None:
    """Rescore a client's open leads in bulk (new weights, ICP or WHO pattern); None when the client is gone."""
    client = Client.objects.filter(pk=client_id).first()
    if client is None:
        return None
    return triggers.rescore_client(client)


def replan_client_touches(client_id: int) -> dict[str, int] | None:
    """Re-plan a client's unsent touches in bulk (new HOW or WHEN pattern); None when the client is gone."""
    client = Client.objects.filter(pk=client_id).first()
    if client is None:
        return None
    return triggers.replan_client(client)


def dispatch_touches(
    limit: int | None = None, batch_size: int = dispatcher.BATCH_SIZE, threads: int | None = None
) -> dict[str, int]:
    """The every-minute job: send the due touches (engines.services.sending.dispatcher); counts by outcome."""
    return dispatcher.dispatch_due_touches(limit=limit, batch_size=batch_size, threads=threads)


def check_mailbox_health() -> dict[str, int]:
    """Judge every sending mailbox and domain, pausing those over their limits (deliverability.mailboxes); what
    it did. Schedule it hourly (func "engines.tasks.check_mailbox_health") to pause a mailbox within the hour."""
    report = mailboxes.check_all_health()
    return {"checked": report.checked, "paused": len(report.paused), "warmed_up": len(report.warmed_up)}


def task_path(func: Callable[..., object]) -> str:
    """The dotted path django-q2 stores for a task function (and a worker imports)."""
    return f"{func.__module__}.{func.__qualname__}"


class TaskQueue:
    """engines.services.later's queue on django-q2: one task per call, grouped by kind of work."""

    def score_and_plan_leads(self, client_id: int, lead_ids: Sequence[int]) -> None:
        async_task(
            task_path(score_and_plan_imported_leads),
            client_id,
            list(lead_ids),
            task_name=f"score and plan {len(lead_ids)} imported leads of client {client_id}",
            group="lead_import",
        )

    def score_lead(self, lead_id: int) -> None:
        async_task(task_path(score_one_lead), lead_id, group="score_lead")

    def plan_lead(self, lead_id: int) -> None:
        async_task(task_path(allocate_one_lead), lead_id, group="allocate_lead")

    def rescore_client(self, client_id: int) -> None:
        async_task(task_path(rescore_client_leads), client_id, group="rescore_client")

    def replan_client(self, client_id: int) -> None:
        async_task(task_path(replan_client_touches), client_id, group="replan_client")
