"""Stopping contact with a lead: the one owner of the writes that say a lead may no longer be contacted.

Every path that stops a lead comes here: provider webhooks, SMS keywords and bookings (outcomes.events), a
provider's opt-out at send time (sending.sms), a call's outcome (sending.voice), a person's action
(journey.actions, and through it the admin) and a flag or status saved on the lead (journey.triggers).
`stop_contact` sets the lead's flag the reason names (STOPS), cancels the unsent touches of the channels the
reason concerns and, when every channel stops, ends the open enrollment, in one transaction: the one
synchronous step that safety allows in a receiver. An answer also moves the lead on (`mark_replied`,
`convert`). The reasons are one vocabulary, StopReason (outreach.models.choices; docs/journey.md).

The tracking webhooks' fast path (outcomes.events.record_message_event) writes the flag inside its one SQL
statement, for speed, and takes the flag and the channels from the same table, STOPS.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce

from engines.providers.errors import NumberFault
from engines.services.journey.enrollments import end_open_enrollment, finish_completed
from engines.services.planning.touch_writer import cancel_touches
from outreach.models import Channel, Lead, LeadStatus, ScheduledTouch, StopReason
from outreach.models.choices import OPEN_LEAD_STATUSES, UNSENT_TOUCH_STATUSES


@dataclass(frozen=True)
class Stop:
    """What stopping for a reason writes: the lead's flag it turns on ("" when the lead has no flag for it: an
    answer, a status, a person's stop) and the channels it stops (None: every channel, which ends the
    enrollment)."""

    flag: str
    channels: tuple[str, ...] | None


STOPS: dict[StopReason, Stop] = {
    StopReason.UNSUBSCRIBED: Stop("is_unsubscribed", None),
    # A spam complaint unsubscribes the lead from everything.
    StopReason.COMPLAINED: Stop("is_unsubscribed", None),
    StopReason.DO_NOT_CONTACT: Stop("do_not_contact", None),
    StopReason.EMAIL_OPTED_OUT: Stop("email_opted_out", (Channel.EMAIL,)),
    StopReason.SMS_OPTED_OUT: Stop("sms_opted_out", (Channel.SMS,)),
    StopReason.LINKEDIN_OPTED_OUT: Stop("linkedin_opted_out", (Channel.LINKEDIN,)),
    StopReason.VOICE_OPTED_OUT: Stop("voice_opted_out", (Channel.VOICE,)),
    StopReason.BOUNCED: Stop("has_bounced", (Channel.EMAIL,)),
    # A wrong number serves neither texts nor calls.
    StopReason.PHONE_UNUSABLE: Stop("phone_unusable", (Channel.SMS, Channel.VOICE)),
    # A landline takes calls, not texts.
    StopReason.SMS_UNSUPPORTED: Stop("sms_unsupported", (Channel.SMS,)),
    StopReason.REPLIED: Stop("", None),
    StopReason.CONVERTED: Stop("", None),
    StopReason.CLOSED: Stop("", None),
    StopReason.STOPPED: Stop("", None),
}
# The stop a flag saved on the lead says. A save tells which flag turned on, not why: the unsubscribe flag
# reads as an unsubscribe, not as a complaint.
FLAG_STOPS: dict[str, StopReason] = {
    stop.flag: reason for reason, stop in STOPS.items() if stop.flag and reason != StopReason.COMPLAINED
}
# What a call's outcome teaches about the phone: a wrong number, or a lead who asked not to be called again.
CALL_STOPS: dict[str, StopReason] = {
    "wrong_number": StopReason.PHONE_UNUSABLE,
    "do_not_call": StopReason.VOICE_OPTED_OUT,
}

# What a provider's error about the number stops: its opt-out stops texts, a number that reaches nobody stops
# texts and calls, a landline stops texts only.
NUMBER_FAULT_STOPS: dict[NumberFault, StopReason] = {
    NumberFault.OPTED_OUT: StopReason.SMS_OPTED_OUT,
    NumberFault.INVALID: StopReason.PHONE_UNUSABLE,
    NumberFault.NO_SMS: StopReason.SMS_UNSUPPORTED,
}


def stop_contact(lead: Lead | int, reason: StopReason) -> int:
    """Stop contacting the lead for `reason`; how many unsent touches were cancelled.

    In one transaction (the caller's when there is one, so the outcome that stops the lead commits with the
    stop): the lead's flag for the reason is set (STOPS; an update, which fires no receiver), its unsent
    touches of the reason's channels are cancelled, and when the reason stops every channel its open
    enrollment ends in the state the reason says (enrollments.ENDED_BY). A channel-only stop ("don't call
    me") leaves the other channels' touches and the enrollment as they are, unless no step is left, when the
    enrollment finishes. ValueError for a reason that is not a stop of the lead (a pause, a re-plan).
    """
    stop = STOPS.get(reason)
    if stop is None:
        raise ValueError(f"{reason!r} does not stop contact with a lead")
    lead_id = lead.pk if isinstance(lead, Lead) else lead
    with transaction.atomic():
        if stop.flag:
            Lead.objects.filter(pk=lead_id).update(**{stop.flag: True})
        return cancel_planned_touches(lead_id, reason=reason, channels=stop.channels)


def mark_replied(lead: Lead) -> int:
    """The lead answered: it is shown replied (unless converted or closed already) and every channel stops
    (StopReason.REPLIED); how many touches were cancelled."""
    with transaction.atomic():
        Lead.objects.filter(pk=lead.pk, status__in=OPEN_LEAD_STATUSES).update(status=LeadStatus.REPLIED)
        return stop_contact(lead, StopReason.REPLIED)


def convert(lead: Lead, *, at: datetime) -> int:
    """The lead booked a meeting at `at`: it is converted (converted_at kept when it was set before) and every
    channel stops (StopReason.CONVERTED); how many touches were cancelled."""
    with transaction.atomic():
        Lead.objects.filter(pk=lead.pk).update(
            status=LeadStatus.CONVERTED, converted_at=Coalesce(F("converted_at"), Value(at))
        )
        return stop_contact(lead, StopReason.CONVERTED)


def apply_call_outcome(lead: Lead, *, outcome: str) -> int:
    """What a call taught us about the phone (CALL_STOPS): a wrong number serves neither SMS nor calls, "do not
    call" opts out of calls; other outcomes stop nothing. How many touches were cancelled."""
    reason = CALL_STOPS.get(outcome)
    return 0 if reason is None else stop_contact(lead, reason)


def cancel_planned_touches(lead: Lead | int, *, reason: StopReason, channels: Iterable[str] | None = None) -> int:
    """Cancel the lead's unsent touches (of `channels` only, when given) with `reason`; how many were cancelled.

    The touches' half of stop_contact, called by itself only where the lead's flag is written already (the
    tracking fast path). Their open manual tasks are skipped with the same reason, so nobody is asked to
    message a lead who asked us to stop. A touch already `sending` is not touched here: the send path reads
    the lead again just before the provider is called and blocks it there.

    Stopping every channel ends the lead's open enrollment, in the state the reason says
    (enrollments.ENDED_BY); stopping some channels finishes it when no step is left on the others.
    """
    lead_id = lead.pk if isinstance(lead, Lead) else lead
    touches = ScheduledTouch.objects.filter(lead_id=lead_id, status__in=UNSENT_TOUCH_STATUSES)
    if channels is not None:
        touches = touches.filter(channel__in=list(channels))
    with transaction.atomic():
        touch_ids = list(touches.select_for_update().values_list("pk", flat=True))
        cancelled = cancel_touches(ScheduledTouch.objects.filter(pk__in=touch_ids), reason=reason) if touch_ids else 0
        if channels is None:
            end_open_enrollment(lead_id, reason=reason)
        elif cancelled:
            finish_completed([lead_id])
    return cancelled
