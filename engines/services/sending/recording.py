"""Recording a touch, shared by the channel engines: the gate just before a send, and the
Activity and lead update written together once the provider accepted it."""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NotRequired, TypedDict, Unpack

from django.db import connection, transaction
from django.db.models import Case, F, Value, When

from engines.db.bulk import update_from_values
from engines.db.copy import insert_objects
from engines.exceptions import InvalidTouch, SendBlocked
from engines.json_types import JSONValue
from engines.rules.compliance import check_can_contact
from engines.services import later
from engines.services.journey.enrollments import SHOWN_IN_SEQUENCE, finish_enrollments
from outreach.models import Activity, Client, Lead, LeadStatus, ScheduledTouch, TouchStatus

logger = logging.getLogger(__name__)

# A touch is marked sent from these: claimed by a dispatcher, handed to a person, or held for review.
SENDABLE_STATUSES = (TouchStatus.SENDING, TouchStatus.WAITING, TouchStatus.REVIEW)


def touch_context(touch_number: object, sequence_id: object) -> tuple[int, uuid.UUID | None]:
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


@dataclass(frozen=True)
class SentTouch:
    """One touch that went out (or a call that happened), as record_touches saves it."""

    lead: Lead
    client: Client
    action: str
    channel: str
    content_snapshot: dict[str, JSONValue]
    metadata: dict[str, JSONValue]
    at: datetime
    touch_number: int
    sequence_id: uuid.UUID | None
    provider_message_id: str = ""
    # An email's own Message-ID, bare (engines.rules.email_threads).
    message_id: str = ""
    led_to_booking: bool = False
    touch: ScheduledTouch | None = None
    # The mailbox an email went from (None: the client's sending_email).
    mailbox_id: int | None = None


class TouchFields(TypedDict):
    """SentTouch's fields but the lead and the client: the keyword arguments of record_touch."""

    action: str
    channel: str
    content_snapshot: dict[str, JSONValue]
    metadata: dict[str, JSONValue]
    at: datetime
    touch_number: int
    sequence_id: uuid.UUID | None
    provider_message_id: NotRequired[str]
    message_id: NotRequired[str]
    led_to_booking: NotRequired[bool]
    touch: NotRequired[ScheduledTouch | None]


def record_touch(lead: Lead, client: Client, **fields: Unpack[TouchFields]) -> Activity:
    """record_touches for one touch (the keyword arguments are SentTouch's fields); its Activity."""
    return record_touches([SentTouch(lead=lead, client=client, **fields)])[0]


def record_touches(sends: Sequence[SentTouch], *, refresh: bool = True) -> list[Activity]:
    """Save the Activities, update their leads and mark their touches sent (linked), all in one transaction.

    touch_count is incremented in the database, so two sends to one lead
    never lose a count even when each holds a stale copy of the lead. A new
    lead enters its sequence; a booked meeting converts it. A touch no longer
    in flight (cancelled or sent meanwhile) raises InvalidTouch and rolls
    everything back: one touch never gets two Activities. The callers' lead
    objects are refreshed from the database (unless not `refresh`: a
    dispatcher has no further use for them).
    """
    activities = [
        Activity(
            client=send.client,
            lead=send.lead,
            action=send.action,
            channel=send.channel,
            content_snapshot=send.content_snapshot,
            metadata=send.metadata,
            sequence_id=send.sequence_id,
            touch_number=send.touch_number,
            provider_message_id=(send.provider_message_id or "")[:255],
            message_id=send.message_id,
            led_to_booking=send.led_to_booking,
            mailbox_id=send.mailbox_id,
            created_at=send.at,
        )
        for send in sends
    ]
    with transaction.atomic():
        insert_objects(activities)  # one COPY on PostgreSQL
        pairs = zip(sends, activities, strict=True)
        mark_touches_sent([(send.touch, activity) for send, activity in pairs if send.touch is not None])
        _count_on_leads(
            sends, finished=set(finish_enrollments({send.lead.pk for send in sends if send.touch is not None}))
        )
    _after_recording(activities)
    if refresh:
        _refresh_leads([send.lead for send in sends])
    return activities


def _after_recording(activities: Sequence[Activity]) -> None:
    """What must follow a recorded send (statuses Twilio reported before it was recorded). The sends are
    recorded whatever happens here: a status that cannot be applied now stays parked for the next sweep."""
    try:
        later.after_sends_recorded.run(activities)
    except Exception:  # any error: raised from here, it would make the caller record the sends again
        logger.exception("parked statuses of %d recorded sends not applied; the next sweep retries", len(activities))


def _count_on_leads(sends: Sequence[SentTouch], *, finished: Collection[int]) -> None:
    """Each lead: touch_count up by its sends, last contacted at its latest, a new lead in its sequence, one
    whose enrollment just `finished` shown finished (unless it answered or is closed), a booked one converted.
    One UPDATE for all the leads."""
    counts: Counter[int] = Counter(send.lead.pk for send in sends)
    latest: dict[int, datetime] = {}
    for send in sends:
        latest[send.lead.pk] = max(send.at, latest.get(send.lead.pk, send.at))
    at_field = Lead._meta.get_field("last_contacted_at")
    in_sequence = ", ".join(["%s"] * len(SHOWN_IN_SEQUENCE))
    update_from_values(
        Lead,
        "touch_count = touch_count + v.column2, last_contacted_at = v.column3, "
        f"status = CASE WHEN v.column4 = 1 AND status IN ({in_sequence}) THEN %s WHEN status = %s THEN %s "
        "ELSE status END",
        [
            (pk, count, at_field.get_db_prep_value(latest[pk], connection), int(pk in finished))
            for pk, count in counts.items()
        ],
        params=[
            *(status.value for status in SHOWN_IN_SEQUENCE),
            LeadStatus.FINISHED.value,
            LeadStatus.NEW.value,
            LeadStatus.IN_SEQUENCE.value,
        ],
    )
    for send in sends:
        if send.led_to_booking:
            converted = Case(When(converted_at__isnull=True, then=Value(send.at)), default=F("converted_at"))
            Lead.objects.filter(pk=send.lead.pk).update(status=LeadStatus.CONVERTED, converted_at=converted)


def _refresh_leads(leads: Sequence[Lead]) -> None:
    fields = ("last_contacted_at", "touch_count", "status", "converted_at")
    current = {row["pk"]: row for row in Lead.objects.filter(pk__in={lead.pk for lead in leads}).values("pk", *fields)}
    for lead in leads:
        for name in fields:
            setattr(lead, name, current[lead.pk][name])


def mark_touches_sent(pairs: Sequence[tuple[ScheduledTouch, Activity]]) -> None:
    """Link each Activity to its touch and mark it sent; InvalidTouch when one is no longer in flight.

    A touch cancelled, already sent or failed meanwhile is refused, which
    rolls back the caller's transaction: one touch never gets two Activities.
    """
    if not pairs:
        return
    activity_field = ScheduledTouch._meta.get_field("activity")
    sendable = [status.value for status in SENDABLE_STATUSES]
    updated = update_from_values(
        ScheduledTouch,
        "status = %s, activity_id = v.column2, reason = '', last_error = ''",
        [(touch.pk, activity_field.get_db_prep_value(activity.pk, connection)) for touch, activity in pairs],
        params=[TouchStatus.SENT.value, *sendable],
        where=f" AND status IN ({', '.join(['%s'] * len(sendable))})",
    )
    if updated != len(pairs):
        raise InvalidTouch(
            f"{len(pairs) - updated} of touches {sorted(touch.pk for touch, _ in pairs)} are not being sent "
            "(status changed meanwhile); nothing recorded"
        )
    for touch, activity in pairs:
        touch.status, touch.activity, touch.reason, touch.last_error = TouchStatus.SENT, activity, "", ""
