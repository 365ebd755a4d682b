"""Recording a touch, shared by the channel engines: the gate just before a send, and the
Activity and lead update written together once the provider accepted it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Case, F, Value, When

from engines.exceptions import InvalidTouch, SendBlocked
from engines.services.compliance import check_can_contact
from outreach.models import Activity, Client, Lead, LeadStatus, ScheduledTouch, TouchStatus

# A touch is marked sent from these: claimed by a dispatcher, handed to a person, or held for review.
SENDABLE_STATUSES = (TouchStatus.SENDING, TouchStatus.WAITING, TouchStatus.REVIEW)


def touch_context(touch_number: Any, sequence_id: Any) -> tuple[int, uuid.UUID | None]:
    """The touch number and sequence id as the Activity columns store them.

    Checked before any provider is called: a value the database would refuse
    after a real send would lose the record of that send.
    """
    if isinstance(touch_number, bool) or not isinstance(touch_number, int) or not 1 <= touch_number <= 32767:
        raise InvalidTouch(f"touch_number must be a whole number from 1, got {touch_number!r}")
    if sequence_id is None or isinstance(sequence_id, uuid.UUID):
        return touch_number, sequence_id
    try:
        return touch_number, uuid.UUID(str(sequence_id))
    except ValueError:
        raise InvalidTouch(f"sequence_id must be a UUID, got {sequence_id!r}") from None


def check_owner(lead: Lead, client: Client) -> None:
    """Raise SendBlocked unless the lead belongs to `client`: a lead is only contacted for its own client."""
    if lead.client_id != getattr(client, "pk", None):
        raise SendBlocked(
            "lead_of_another_client",
            f"lead {lead.pk} belongs to client {lead.client_id}, not to client {getattr(client, 'pk', None)}",
        )


def current_lead(lead: Lead, client: Client | None = None) -> Lead:
    """The lead as the database has it now (SendBlocked when it is gone; checked against `client` when given)."""
    if lead.pk is None:
        raise InvalidTouch("a touch is recorded against a saved lead; this lead has no id")
    current = Lead.objects.filter(pk=lead.pk).first()
    if current is None:
        raise SendBlocked("lead_deleted", f"lead {lead.pk} no longer exists")
    if client is not None:
        check_owner(current, client)
    return current


def check_reachable(lead: Lead, channel: str, client: Client | None = None) -> None:
    """Raise SendBlocked when `channel` cannot reach the lead, as the caller sees it or as the database has it now.

    A STOP or an unsubscribe recorded since the caller loaded the lead still
    blocks, and so does a flag the caller set but has not saved yet. With
    `client`, a lead of another client is blocked too.
    """
    if client is not None:
        check_owner(lead, client)
    check_can_contact(lead, channel)
    check_can_contact(current_lead(lead, client), channel)


def record_touch(
    lead: Lead,
    client: Client,
    *,
    action: str,
    channel: str,
    content_snapshot: dict[str, Any],
    metadata: dict[str, Any],
    at: datetime,
    touch_number: int,
    sequence_id: uuid.UUID | None,
    provider_message_id: str = "",
    led_to_booking: bool = False,
    touch: ScheduledTouch | None = None,
) -> Activity:
    """Save the Activity, update the lead and mark `touch` sent (linked to the Activity) in one transaction.

    touch_count is incremented in the database, so two sends to one lead
    never lose a count even when each holds a stale copy of the lead. A new
    lead enters its sequence; a booked meeting converts it.
    """
    if led_to_booking:
        status: Any = Value(LeadStatus.CONVERTED.value)
        converted_at: Any = Case(When(converted_at__isnull=True, then=Value(at)), default=F("converted_at"))
    else:
        status = Case(When(status=LeadStatus.NEW, then=Value(LeadStatus.IN_SEQUENCE.value)), default=F("status"))
        converted_at = F("converted_at")
    with transaction.atomic():
        activity = Activity.objects.create(
            client=client,
            lead=lead,
            action=action,
            channel=channel,
            content_snapshot=content_snapshot,
            metadata=metadata,
            sequence_id=sequence_id,
            touch_number=touch_number,
            provider_message_id=(provider_message_id or "")[:255],
            led_to_booking=led_to_booking,
            created_at=at,
        )
        Lead.objects.filter(pk=lead.pk).update(
            last_contacted_at=at,
            touch_count=F("touch_count") + 1,
            status=status,
            converted_at=converted_at,
        )
        if touch is not None:
            mark_touch_sent(touch, activity)
    lead.refresh_from_db(
        fields=[
            "last_contacted_at",
            "touch_count",
            "status",
            "converted_at",
        ]
    )
    return activity


def mark_touch_sent(touch: ScheduledTouch, activity: Activity) -> None:
    """Link the Activity to its touch and mark it sent; InvalidTouch when the touch is no longer in flight.

    A touch cancelled, already sent or failed meanwhile is refused, which
    rolls back the caller's transaction: one touch never gets two Activities.
    """
    updated = ScheduledTouch.objects.filter(pk=touch.pk, status__in=SENDABLE_STATUSES).update(
        status=TouchStatus.SENT, activity=activity, reason="", last_error=""
    )
    if updated != 1:
        raise InvalidTouch(f"touch {touch.pk} is not being sent (status changed meanwhile); nothing recorded")
    touch.status, touch.activity, touch.reason, touch.last_error = TouchStatus.SENT, activity, "", ""
