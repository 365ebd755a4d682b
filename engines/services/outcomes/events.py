"""Outcomes heard back from providers and people, each stored once and linked to the touch it answers.

Every recorder writes one Activity, updates the lead and, when the outcome
ends the sequence (a reply, a booking, an opt-out, a hard bounce for email),
cancels the remaining touches, all in one transaction. A replay of an event
already stored (same provider and provider event id) writes nothing and
returns the stored Activity: the unique constraint on (provider,
provider_event_id) decides, so two deliveries racing each other still leave
one row.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, router, transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from engines.db.once import insert_message_event, insert_once
from engines.exceptions import InvalidTouch
from engines.json_types import JSONValue
from engines.providers.errors import is_twilio_opt_out
from engines.services.journey.colleagues import COLLEAGUE_CONVERTED, COLLEAGUE_REPLIED, pause_colleagues
from engines.services.journey.contact import cancel_planned_touches
from outreach.models import (
    Activity,
    ActivityAction,
    Channel,
    Lead,
    LeadStatus,
)
from outreach.models.choices import ACTION_CHANNEL, OPEN_LEAD_STATUSES, SENT_ACTIONS

# Statuses a reply moves on to `replied`; a converted or closed lead keeps its status.
# Twilio error codes that mean the number must not be texted again (21610: the recipient texted STOP).
SMS_STATUS_ACTIONS = {
    "delivered": ActivityAction.SMS_DELIVERED,
    "undelivered": ActivityAction.SMS_UNDELIVERED,
    "failed": ActivityAction.SMS_UNDELIVERED,
}


@dataclass(frozen=True)
class Recorded:
    """The Activity an outcome is stored as, and whether this call stored it (False for a replay)."""

    activity: Activity
    created: bool


def event_key(*parts: object) -> str:
    """A deterministic event id for a provider that gives none: same message, event and time, same id."""
    digest = hashlib.sha256("|".join("" if part is None else str(part) for part in parts).encode()).hexdigest()
    return f"sha256:{digest[:48]}"


def stored_event(provider: str, event_id: str) -> Activity | None:
    if not event_id:
        return None
    return Activity.objects.filter(provider=provider, provider_event_id=event_id).first()


def record_outcome(
    lead: Lead,
    *,
    action: str,
    channel: str,
    provider: str,
    event_id: str,
    at: datetime,
    answers: Activity | None = None,
    metadata: Mapping[str, JSONValue] | None = None,
    lead_updates: Mapping[str, object] | None = None,
    cancel_reason: str = "",
    cancel_channels: Iterable[str] | None = None,
    provider_message_id: str = "",
) -> Recorded:
    """Store one outcome once; on first storage also apply `lead_updates` and cancel the remaining touches."""
    provider, event_id = provider[:20], event_id[:255]
    activity = Activity(
        client_id=lead.client_id,
        lead=lead,
        action=action,
        channel=channel,
        metadata=dict(metadata or {}),
        provider=provider,
        provider_event_id=event_id,
        provider_message_id=provider_message_id[:255],
        in_reply_to=answers,
        sequence_id=answers.sequence_id if answers is not None else None,
        touch_number=answers.touch_number if answers is not None else None,
        created_at=at,
    )
    with transaction.atomic(savepoint=False):
        if not insert_once(activity):
            # A replay, or the same event delivered twice at once: the other delivery stored it.
            existing = stored_event(provider, event_id)
            if existing is None:
                raise IntegrityError(f"activity {action} on {channel!r} refused by a constraint")
            return Recorded(existing, False)
        if lead_updates:
            Lead.objects.filter(pk=lead.pk).update(**lead_updates)
        if cancel_reason:
            cancel_planned_touches(lead, reason=cancel_reason, channels=cancel_channels)
    return Recorded(activity, True)


def record_delivery(
    sent: Activity, *, action: str, provider: str, event_id: str, at: datetime, metadata: Mapping[str, JSONValue]
) -> Recorded:
    """An event about a message that changes nothing else: delivered, opened, clicked, deferred, auto-replied."""
    return record_outcome(
        sent.lead, action=action, channel=sent.channel, provider=provider, event_id=event_id, at=at,
        answers=sent, metadata=metadata,
    )  # fmt: skip


def record_message_event(
    *, message_id: str, channel: str, action: str, provider: str, event_id: str, at: datetime,
    metadata: Mapping[str, JSONValue], lead_updates: Mapping[str, object] | None = None, cancel_reason: str = "",
    cancel_channels: Iterable[str] | None = None,
) -> bool | None:  # fmt: skip
    """The fast path of record_outcome for tracking webhooks: find the message we sent and store the event
    in one statement (the same row, proven by a test; engines.db.once), skipping the look-up round trip and
    the ORM. On first storage `lead_updates` (plain values) and `cancel_reason` apply to the message's lead,
    in one transaction.

    True: stored; False: already stored (a replay); None: no message we sent on `channel` has this id.
    """
    if ACTION_CHANNEL.get(action) != channel:  # SQLite's OR IGNORE would skip the refused row silently
        raise ValueError(f"{action} is not an action on {channel}")
    alias = router.db_for_write(Activity)
    channels = None if cancel_channels is None else list(cancel_channels)
    with transaction.atomic(using=alias) if lead_updates or cancel_reason else nullcontext():
        written = insert_message_event(
            message_id=message_id, sent_action=f"{channel}_sent", action=action, provider=provider[:20],
            event_id=event_id[:255], at=at, metadata=metadata, lead_updates=lead_updates or {},
            cancels=bool(cancel_reason), channels=channels, using=alias,
        )  # fmt: skip
        if written.lead_id is None:
            return False if written.replay else None
        if written.open_touches:
            cancel_planned_touches(written.lead_id, reason=cancel_reason, channels=channels)
    return True


def record_bounce(
    sent: Activity, *, hard: bool, provider: str, event_id: str, at: datetime, metadata: Mapping[str, JSONValue]
) -> Recorded:
    """A bounce. A hard one marks the address bounced and cancels the email touches; a soft one is a deferral."""
    if not hard:
        return record_delivery(
            sent, action=ActivityAction.EMAIL_DEFERRED, provider=provider, event_id=event_id, at=at,
            metadata={**metadata, "soft_bounce": True},
        )  # fmt: skip
    return record_outcome(
        sent.lead, action=ActivityAction.EMAIL_BOUNCED, channel=Channel.EMAIL, provider=provider, event_id=event_id,
        at=at, answers=sent, metadata=metadata, lead_updates={"has_bounced": True},
        cancel_reason="bounced", cancel_channels=[Channel.EMAIL],
    )  # fmt: skip


def record_complaint(
    sent: Activity, *, provider: str, event_id: str, at: datetime, metadata: Mapping[str, JSONValue]
) -> Recorded:
    """A spam complaint: the lead is unsubscribed from everything at once."""
    return record_outcome(
        sent.lead, action=ActivityAction.EMAIL_COMPLAINED, channel=Channel.EMAIL, provider=provider,
        event_id=event_id, at=at, answers=sent, metadata=metadata, lead_updates={"is_unsubscribed": True},
        cancel_reason="complained",
    )  # fmt: skip


def record_opt_out(
    lead: Lead,
    *,
    channel: str,
    provider: str,
    event_id: str,
    at: datetime | None = None,
    answers: Activity | None = None,
    metadata: Mapping[str, JSONValue] | None = None,
    same_person: Iterable[Lead] = (),
) -> Recorded:
    """An opt-out. Email unsubscribes the lead from every channel (the legal meaning of the link); SMS or voice
    opts out of that channel only. `same_person` are other leads of the client with the same phone: a STOP
    covers the number, so they are opted out too."""
    at = at or timezone.now()
    flag = "is_unsubscribed" if channel == Channel.EMAIL else f"{channel}_opted_out"
    cancel_channels = None if channel == Channel.EMAIL else [channel]
    with transaction.atomic():
        recorded = record_outcome(
            lead, action=ActivityAction.OPTED_OUT, channel=channel, provider=provider, event_id=event_id, at=at,
            answers=answers, metadata=metadata, lead_updates={flag: True},
            cancel_reason=f"opted_out_{channel}", cancel_channels=cancel_channels,
        )  # fmt: skip
        others = [other for other in same_person if other.pk != lead.pk]
        if recorded.created and others:
            Lead.objects.filter(pk__in=[other.pk for other in others]).update(**{flag: True})
            for other in others:
                cancel_planned_touches(other, reason=f"opted_out_{channel}", channels=cancel_channels)
    return recorded


def unsubscribe_lead(lead: Lead, *, source: str, at: datetime | None = None) -> Recorded | None:
    """The unsubscribe link: unsubscribe the lead from everything; None when it already was (nothing to store)."""
    with transaction.atomic():
        current = Lead.objects.select_for_update().filter(pk=lead.pk).first()
        if current is None or current.is_unsubscribed:
            return None
        return record_opt_out(current, channel=Channel.EMAIL, provider=source, event_id="", at=at)


def record_opt_in(
    lead: Lead, *, channel: str, provider: str, event_id: str, at: datetime, metadata: Mapping[str, JSONValue]
) -> Recorded:
    """START / UNSTOP: the lead may be texted again. Cancelled touches stay cancelled (re-planning is manual)."""
    return record_outcome(
        lead, action=ActivityAction.OPTED_IN, channel=channel, provider=provider, event_id=event_id, at=at,
        metadata=metadata, lead_updates={f"{channel}_opted_out": False},
    )  # fmt: skip


def record_reply(
    lead: Lead,
    *,
    channel: str,
    provider: str,
    event_id: str,
    at: datetime,
    answers: Activity | None,
    metadata: Mapping[str, JSONValue],
    provider_message_id: str = "",
) -> Recorded:
    """A person answered: the lead is `replied` (unless already converted or closed) and its sequence ends.

    On first storage (not a replay) the active enrollments of the lead's colleagues pause
    (journey.colleagues.pause_colleagues, when the client asks for it): every reply counts as positive
    until replies are classified by intent.
    """
    replies: dict[str, ActivityAction] = {
        Channel.EMAIL: ActivityAction.EMAIL_REPLIED,
        Channel.SMS: ActivityAction.SMS_REPLIED,
        Channel.LINKEDIN: ActivityAction.LINKEDIN_REPLIED,
    }
    if channel not in replies:
        raise InvalidTouch(
            f"a reply is recorded on email, sms or linkedin, not {channel!r}; record a call with its outcome instead"
        )
    action = replies[channel]
    with transaction.atomic():
        recorded = record_outcome(
            lead, action=action, channel=channel, provider=provider, event_id=event_id, at=at, answers=answers,
            metadata=metadata, cancel_reason="lead_replied", provider_message_id=provider_message_id,
        )  # fmt: skip
        if recorded.created:
            Lead.objects.filter(pk=lead.pk, status__in=OPEN_LEAD_STATUSES).update(status=LeadStatus.REPLIED)
            pause_colleagues(lead, reason=COLLEAGUE_REPLIED, at=at)
    return recorded


def record_sms_status(
    sent: Activity, *, status: str, error_code: str, provider: str, at: datetime, metadata: Mapping[str, JSONValue]
) -> Recorded:
    """A Twilio status callback: delivered, undelivered or failed, or an intermediate status (queued, sent)."""
    action = SMS_STATUS_ACTIONS.get(status, ActivityAction.SMS_STATUS)
    # Twilio sends no event id and no timestamp: each status happens once per message.
    event_id = f"{sent.provider_message_id}:{status}"
    if is_twilio_opt_out(error_code):
        return record_outcome(
            sent.lead, action=action, channel=Channel.SMS, provider=provider, event_id=event_id, at=at,
            answers=sent, metadata=metadata, lead_updates={"sms_opted_out": True},
            cancel_reason="opted_out_sms", cancel_channels=[Channel.SMS],
        )  # fmt: skip
    return record_delivery(sent, action=action, provider=provider, event_id=event_id, at=at, metadata=metadata)


def last_sent(lead: Lead, *, channel: str | None = None, before: datetime | None = None) -> Activity | None:
    """The lead's last touch sent (on `channel`, at or before `before`): what an outcome answers."""
    touches = Activity.objects.filter(lead=lead, action__in=SENT_ACTIONS)
    if channel is not None:
        touches = touches.filter(channel=channel)
    if before is not None:
        touches = touches.filter(created_at__lte=before)
    return touches.order_by("-created_at").first()


def record_booking(
    lead: Lead,
    *,
    source: str,
    event_id: str = "",
    at: datetime | None = None,
    metadata: Mapping[str, JSONValue] | None = None,
) -> Activity:
    """A meeting booked: convert the lead, credit the touches of its sequence that preceded the booking
    (led_to_booking) and cancel what is left of it, and pause the active enrollments of the lead's colleagues
    (journey.colleagues.pause_colleagues, when the client asks for it), in one transaction. A replayed event id
    stores nothing."""
    at = at or timezone.now()
    with transaction.atomic():
        credited = last_sent(lead, before=at)
        recorded = record_outcome(
            lead,
            action=ActivityAction.MEETING_BOOKED,
            channel=credited.channel if credited is not None else "",
            provider=source,
            event_id=event_id,
            at=at,
            answers=credited,
            metadata={"source": source, **(metadata or {})},
            lead_updates={
                "status": LeadStatus.CONVERTED,
                "converted_at": Coalesce(F("converted_at"), Value(at)),
            },
            cancel_reason="meeting_booked",
        )
        if recorded.created and credited is not None:
            _credit_sequence(lead, credited, at)
        if recorded.created:
            pause_colleagues(lead, reason=COLLEAGUE_CONVERTED, at=at)
    return recorded.activity


def _credit_sequence(lead: Lead, credited: Activity, at: datetime) -> None:
    touches = Activity.objects.filter(lead=lead, action__in=SENT_ACTIONS, created_at__lte=at)
    if credited.sequence_id is not None:
        touches = touches.filter(sequence_id=credited.sequence_id)
    else:
        touches = touches.filter(pk=credited.pk)
    touches.update(led_to_booking=True)
