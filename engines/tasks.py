"""django-q2 entry points: take ids, re-fetch, return early when nothing is left, call one service."""

from __future__ import annotations

import logging

from django_q.tasks import async_task

from engines.services.detectors import detect_patterns
from engines.services.lead_import import score_and_plan_leads
from outreach.models import Client

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
                "engines.tasks.detect_client_patterns",
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
    return score_and_plan_leads(client, lead_ids)
