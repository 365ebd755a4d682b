"""SMS statuses that arrive before their send is recorded.

The dispatcher calls the provider first and records the batch's sends after
(docs/dispatch.md), so a Twilio status callback can name a message SID that
no Activity carries yet. Twilio does not retry status callbacks: answering
404 would lose the status. It is parked as an EarlyStatus instead and
applied when the send is recorded. Either side may see the other first:
the callback looks for the send again after parking, and recording looks
for parked statuses after it commits, so a status is never left behind;
applying one twice stores it once (its event id is the SID and status).
A status whose send never appears (a message of another system on the same
Twilio account) is dropped after UNMATCHED_AFTER, with a log line.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction

from engines.json_types import JSONValue
from engines.services.outcomes import events
from outreach.models import Activity, ActivityAction, EarlyStatus

logger = logging.getLogger("engines.webhooks")

UNMATCHED_AFTER = timedelta(hours=6)


def sent_sms(message_id: str) -> Activity | None:
    """The SMS this provider message id belongs to, if its send is recorded."""
    return (
        Activity.objects.select_related("lead")
        .filter(provider_message_id=message_id, action=ActivityAction.SMS_SENT)
        .order_by("created_at")
        .first()
    )


def record_status(
    message_id: str, *, status: str, error_code: str, provider: str, at: datetime, metadata: Mapping[str, JSONValue]
) -> str:
    """Record an SMS status callback: "recorded" against its send, or "parked" until the send is recorded."""
    sent = sent_sms(message_id)
    if sent is None:
        _park(message_id, status=status, error_code=error_code, provider=provider, at=at, metadata=metadata)
        sent = sent_sms(message_id)  # recorded while we parked: its recorder may have looked before we did
        if sent is None:
            logger.info("%s status %s for message %s parked until its send is recorded", provider, status, message_id)
            return "parked"
        apply_parked([sent])
        return "recorded"
    events.record_sms_status(
        sent, status=status, error_code=error_code, provider=provider, at=at, metadata=metadata
    )  # fmt: skip
    return "recorded"


def _park(
    message_id: str, *, status: str, error_code: str, provider: str, at: datetime, metadata: Mapping[str, JSONValue]
) -> None:
    try:
        with transaction.atomic():
            EarlyStatus.objects.create(
                provider=provider, message_id=message_id, status=status, error_code=error_code,
                metadata=dict(metadata), received_at=at,
            )  # fmt: skip
    except IntegrityError:
        pass  # a replay of a status already parked


def apply_parked(sends: Iterable[Activity]) -> int:
    """Apply the parked statuses of these recorded SMS sends and drop them; how many were applied."""
    by_message = {
        send.provider_message_id: send
        for send in sends
        if send.action == ActivityAction.SMS_SENT and send.provider_message_id
    }
    if not by_message:
        return 0
    parked = list(EarlyStatus.objects.filter(message_id__in=list(by_message)).order_by("received_at", "pk"))
    if not parked:
        return 0
    with transaction.atomic():  # all or none: what fails stays parked for the next sweep
        for early in parked:
            events.record_sms_status(
                by_message[early.message_id], status=early.status, error_code=early.error_code,
                provider=early.provider, at=early.received_at, metadata=early.metadata,
            )  # fmt: skip
        EarlyStatus.objects.filter(pk__in=[early.pk for early in parked]).delete()
    return len(parked)


def settle_parked(*, now: datetime) -> int:
    """Drop the parked statuses older than UNMATCHED_AFTER (their message is not one we sent), then apply those
    whose sends are recorded by now (recording may have failed to apply them). How many were dropped.

    Never raises: the dispatcher calls it before sending, and sends must not wait on it.
    """
    stale = EarlyStatus.objects.filter(received_at__lt=now - UNMATCHED_AFTER)
    for provider, message_id, status in stale.values_list("provider", "message_id", "status")[:100]:
        logger.warning("%s status %s for message %s matched no send; dropped", provider, status, message_id)
    dropped, _ = stale.delete()
    parked = EarlyStatus.objects.values_list("message_id", flat=True)
    recorded = Activity.objects.select_related("lead").filter(
        action=ActivityAction.SMS_SENT, provider_message_id__in=parked
    )
    try:
        apply_parked(recorded)
    except Exception:  # any error: the run goes on to send
        logger.exception("parked SMS statuses not applied; the next sweep retries")
    return dropped
