"""Outcomes heard back from providers and people, each stored once and linked to the touch it answers.

Every recorder writes one Activity and, when the outcome stops contact (a
reply, a booking, an opt-out, a complaint, a hard bounce for email), has the
stop's owner (journey.contact) set the lead's flag, cancel the remaining
touches and end the enrollment, with one StopReason, all in one
transaction. A replay of an event already stored (same provider and
provider event id) writes nothing and returns the stored Activity: the
unique constraint on (provider, provider_event_id) decides, so two
deliveries racing each other still leave one row.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, router, transaction
from django.utils import timezone

from engines.db.once import insert_message_event, insert_once
from engines.exceptions import InvalidTouch
from engines.json_types import JSONValue
from engines.providers.errors import twilio_number_fault
from engines.services.journey.colleagues import pause_colleagues
from engines.services.journey.contact import (
    NUMBER_FAULT_STOPS,
    STOPS,
    cancel_planned_touches,
    convert,
    mark_replied,
    stop_contact,
)
from engines.services.outcomes.intent import Reading, ReplyIntent
from outreach.models import Activity, ActivityAction, Channel, Lead, StopReason
from outreach.models.choices import ACTION_CHANNEL, CHANNEL_OPT_OUTS, SENT_ACTIONS

# The Activity a Twilio status is stored as (the intermediate ones, queued and sent: sms_status).
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
    stop: StopReason | None = None,
    provider_message_id: str = "",
    reply_text: str = "",
) -> Recorded:
    """Store one outcome once; on first storage also apply `lead_updates` and stop contact for `stop`
    (journey.contact.stop_contact). `reply_text`: what the lead wrote, for a reply (stored cleaned of what no
    database stores: Activity.reply_text)."""
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
        reply_text=reply_text,
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
        if stop is not None:
            stop_contact(lead, stop)
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
    metadata: Mapping[str, JSONValue], stop: StopReason | None = None,
) -> bool | None:  # fmt: skip
    """The fast path of record_outcome for tracking webhooks: find the message we sent and store the event
    in one statement (the same row, proven by a test; engines.db.once), skipping the look-up round trip and
    the ORM. On first storage contact stops for `stop`, in one transaction: the statement itself sets the
    lead's flag, and the touches are cancelled after it, both as journey.contact.STOPS says.

    True: stored; False: already stored (a replay); None: no message we sent on `channel` has this id.
    """
    if ACTION_CHANNEL.get(action) != channel:  # SQLite's OR IGNORE would skip the refused row silently
        raise ValueError(f"{action} is not an action on {channel}")
    alias = router.db_for_write(Activity)
    rule = None if stop is None else STOPS[stop]
    flags = {rule.flag: True} if rule is not None and rule.flag else {}
    channels = None if rule is None or rule.channels is None else list(rule.channels)
    with transaction.atomic(using=alias) if stop is not None else nullcontext():
        written = insert_message_event(
            message_id=message_id, sent_action=f"{channel}_sent", action=action, provider=provider[:20],
            event_id=event_id[:255], at=at, metadata=metadata, lead_updates=flags, cancels=stop is not None,
            channels=channels, using=alias,
        )  # fmt: skip
        if written.lead_id is None:
            return False if written.replay else None
        if stop is not None and written.open_touches:
            cancel_planned_touches(written.lead_id, reason=stop, channels=channels)
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
        at=at, answers=sent, metadata=metadata, stop=StopReason.BOUNCED,
    )  # fmt: skip


def record_complaint(
    sent: Activity, *, provider: str, event_id: str, at: datetime, metadata: Mapping[str, JSONValue]
) -> Recorded:
    """A spam complaint: the lead is unsubscribed from everything at once."""
    return record_outcome(
        sent.lead, action=ActivityAction.EMAIL_COMPLAINED, channel=Channel.EMAIL, provider=provider,
        event_id=event_id, at=at, answers=sent, metadata=metadata, stop=StopReason.COMPLAINED,
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
    reply_text: str = "",
) -> Recorded:
    """An opt-out. Email unsubscribes the lead from every channel (the legal meaning of the link); SMS or voice
    opts out of that channel only. `same_person` are other leads of the client with the same phone: a STOP
    covers the number, so they are opted out too. `reply_text`: the words of a reply that asked for it."""
    at = at or timezone.now()
    stop = StopReason.UNSUBSCRIBED if channel == Channel.EMAIL else CHANNEL_OPT_OUTS[channel]
    with transaction.atomic():
        recorded = record_outcome(
            lead, action=ActivityAction.OPTED_OUT, channel=channel, provider=provider, event_id=event_id, at=at,
            answers=answers, metadata=metadata, stop=stop, reply_text=reply_text,
        )  # fmt: skip
        if recorded.created:
            for other in same_person:
                if other.pk != lead.pk:
                    stop_contact(other, stop)
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
        metadata=metadata, lead_updates={STOPS[CHANNEL_OPT_OUTS[channel]].flag: False},
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
    opt_outs: Iterable[StopReason] = (),
) -> Recorded:
    """A person answered: the lead is `replied` (unless already converted or closed) and its sequence ends
    (journey.contact.mark_replied).

    On first storage (not a replay) the channels the reply refused stop (`opt_outs`, CHANNEL_OPT_OUTS: "don't
    call me" sets voice_opted_out), before the reply ends the sequence, so those touches carry the opt-out as
    their reason and the flag keeps the channel closed to later sequences; and the active enrollments of the
    lead's colleagues pause (journey.colleagues.pause_colleagues, when the client asks for it): every reply
    counts, whatever its intent.

    The reply's words (`metadata["text"]`, where the webhooks put them) are also stored as text
    (Activity.reply_text), for the reply inbox and its search.
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
            metadata=metadata, provider_message_id=provider_message_id, reply_text=reply_text_of(metadata),
        )  # fmt: skip
        if recorded.created:
            for reason in opt_outs:
                stop_contact(lead, reason)
            mark_replied(lead)
            pause_colleagues(lead, reason=StopReason.COLLEAGUE_REPLIED, at=at)
    return recorded


def reply_text_of(metadata: Mapping[str, JSONValue]) -> str:
    """The words of a reply as the webhooks record them (`metadata["text"]`); "" when there are none."""
    text = metadata.get("text")
    return text if isinstance(text, str) else ""


def record_read_reply(
    lead: Lead,
    reading: Reading,
    *,
    channel: str,
    provider: str,
    event_id: str,
    at: datetime,
    answers: Activity | None,
    metadata: Mapping[str, JSONValue],
    provider_message_id: str = "",
    same_person: Iterable[Lead] = (),
) -> Recorded:
    """What a person's words mean (outcomes.intent), applied the same on every channel: an explicit request to
    stop contact unsubscribes them from everything (`opted_out`; by SMS also the number's SMS opt-out, as the
    STOP word, for every lead of the client at it, `same_person`); a text refusing texts opts the number out of
    SMS and stops the other channels it refused; anything else is a reply with its intent (record_reply), which
    stops only the channels it refused."""
    unsubscribes = reading.intent == ReplyIntent.UNSUBSCRIBE
    refuses_texts = (
        channel == Channel.SMS
        and reading.intent == ReplyIntent.CHANNEL_PREFERENCE
        and Channel.SMS in reading.stop_channels
    )
    if not (unsubscribes or refuses_texts):
        return record_reply(
            lead, channel=channel, provider=provider, event_id=event_id, at=at, answers=answers,
            metadata={**metadata, **reading.metadata()}, provider_message_id=provider_message_id,
            opt_outs=reading.opt_outs(),
        )  # fmt: skip
    with transaction.atomic():
        recorded = record_opt_out(
            lead, channel=channel, provider=provider, event_id=event_id, at=at, answers=answers,
            metadata={**metadata, "via": "reply"}, same_person=same_person, reply_text=reply_text_of(metadata),
        )  # fmt: skip
        if recorded.created:
            applied = StopReason.UNSUBSCRIBED if channel == Channel.EMAIL else CHANNEL_OPT_OUTS[channel]
            people = {lead.pk: lead, **{person.pk: person for person in same_person}}
            for reason in [StopReason.UNSUBSCRIBED] if unsubscribes else reading.opt_outs():
                for person in people.values() if reason != applied else ():
                    stop_contact(person, reason)
    return recorded


def record_sms_status(
    sent: Activity, *, status: str, error_code: str, provider: str, at: datetime, metadata: Mapping[str, JSONValue]
) -> Recorded:
    """A Twilio status callback: delivered, undelivered or failed, or an intermediate status (queued, sent).

    An error about the number itself (providers.errors.twilio_number_fault: opted out, invalid, a landline)
    stops what the number cannot take (NUMBER_FAULT_STOPS) with the record; any other error (unreachable for
    now, unknown, filtered) is recorded and stops nothing: the next text goes out as planned."""
    action = SMS_STATUS_ACTIONS.get(status, ActivityAction.SMS_STATUS)
    # Twilio sends no event id and no timestamp: each status happens once per message.
    event_id = f"{sent.provider_message_id}:{status}"
    fault = twilio_number_fault(error_code)
    if fault is not None:
        return record_outcome(
            sent.lead, action=action, channel=Channel.SMS, provider=provider, event_id=event_id, at=at,
            answers=sent, metadata=metadata, stop=NUMBER_FAULT_STOPS[fault],
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
    """A meeting booked: convert the lead and cancel what is left of its sequence (journey.contact.convert),
    credit the touches of its sequence that preceded the booking (led_to_booking), and pause the active
    enrollments of the lead's colleagues (journey.colleagues.pause_colleagues, when the client asks for it), in
    one transaction. A replayed event id stores nothing."""
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
        )
        if recorded.created:
            convert(lead, at=at)
            if credited is not None:
                credit_sequence(lead, credited, at)
            pause_colleagues(lead, reason=StopReason.COLLEAGUE_CONVERTED, at=at)
    return recorded.activity


def credit_sequence(lead: Lead, credited: Activity, at: datetime) -> None:
    """Flag `led_to_booking` on the touches of `credited`'s sequence sent at or before the booking at `at`
    (`credited` alone when it belongs to no sequence)."""
    touches = Activity.objects.filter(lead=lead, action__in=SENT_ACTIONS, created_at__lte=at)
    if credited.sequence_id is not None:
        touches = touches.filter(sequence_id=credited.sequence_id)
    else:
        touches = touches.filter(pk=credited.pk)
    touches.update(led_to_booking=True)
