"""A meeting's life after it is booked: requested, booked, rescheduled, cancelled (Cal.com's booking events).

A meeting is named by its booking uid; a reschedule gives it a new uid. Every event is stored once, as an
Activity whose provider event id is `<kind>:<uid>` (a replay stores nothing). The Activity that first stored
the meeting (its `meeting_booked`, or its `meeting_requested` while it awaits the host) is the meeting: a
reschedule and a cancellation answer it (`in_reply_to`), whichever of its uids they name.

- booked: events.record_booking converts the lead.
- requested (awaiting the host's confirmation): stored, nothing else; the confirmation arrives as a booking.
- rescheduled: stored, and the meeting's `start` moves; the lead stays as it is.
- cancelled: stored; a booked meeting no longer converts the lead unless another meeting stands (see
  `cancel_meeting`). A cancellation that arrives before its booking is applied when the booking comes, so
  the lead ends as if the two had come in order.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from functools import reduce

from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet

from engines.json_types import JSONValue
from engines.services.outcomes.attribution import clients_at
from engines.services.outcomes.events import credit_sequence, last_sent, record_booking, record_outcome
from engines.services.sending.manual_tasks import open_follow_up
from outreach.models import Activity, ActivityAction, Lead, LeadStatus
from outreach.models.choices import SENT_ACTIONS


class MeetingEvent(StrEnum):
    """What happened to a meeting; the prefix of the provider event id it is stored under."""

    REQUESTED = "booking_requested"
    BOOKED = "booking_created"
    RESCHEDULED = "booking_rescheduled"
    CANCELLED = "booking_cancelled"


def booking_lead(attendee_emails: list[str], organizer_email: str) -> Lead | None:
    """The lead who booked: the first attendee who is a lead of the client whose sending address, or one of whose
    mailboxes, organizes the meeting. No other client is tried: an attendee who is a lead of another client only
    is none of this organizer's business, and converting (or un-converting) that lead would cross clients."""
    emails = [email.lower() for email in attendee_emails if email]
    if not organizer_email or not emails:
        return None
    organizers = {pk for pk, _ in clients_at([organizer_email.strip().lower()])}
    leads = Lead.objects.filter(client_id__in=organizers).filter(
        reduce(operator.or_, (Q(email__iexact=email) for email in emails))
    )
    clients = {lead.client_id for lead in leads}
    if len(clients) != 1:  # two clients sending from one address cannot tell whose lead it is
        return None
    by_email = {lead.email.lower(): lead for lead in leads}
    return next((by_email[email] for email in emails if email in by_email), None)


def meeting(lead: Lead, *, provider: str, uid: str) -> Activity | None:
    """The Activity that stored the meeting `uid` names (any of its uids, after reschedules), or None."""
    stored = {
        activity.provider_event_id.split(":", 1)[0]: activity
        for activity in Activity.objects.filter(
            lead=lead, provider=provider, provider_event_id__in=[f"{kind}:{uid}" for kind in MeetingEvent]
        ).select_related("in_reply_to")
    }
    if MeetingEvent.BOOKED in stored:
        return stored[MeetingEvent.BOOKED]
    if MeetingEvent.RESCHEDULED in stored:
        # A reschedule answers the meeting itself; one that arrived first (the original booking was never
        # heard of) was stored as the booking.
        rescheduled = stored[MeetingEvent.RESCHEDULED]
        return rescheduled.in_reply_to if rescheduled.action == ActivityAction.MEETING_RESCHEDULED else rescheduled
    return stored.get(MeetingEvent.REQUESTED)


def record_meeting_event(
    lead: Lead,
    event: MeetingEvent,
    *,
    provider: str,
    uid: str,
    at: datetime,
    metadata: Mapping[str, JSONValue],
    previous_uid: str = "",
) -> Activity:
    """Store what happened to the meeting `uid` once and apply it (see the module doc). `previous_uid`: the
    uid a reschedule replaces."""
    event_id = f"{event}:{uid}"
    if event == MeetingEvent.BOOKED:
        with transaction.atomic():
            booking = record_booking(lead, source=provider, event_id=event_id, at=at, metadata=metadata)
            early = cancelled_before_booking(lead, provider=provider, uid=uid)
            if early is not None:  # Cal.com does not promise order: the end is as if both came in order
                Activity.objects.filter(pk=early.pk).update(in_reply_to=booking)
                meeting_cancelled(lead, booking, provider=provider, at=early.created_at)
        return booking
    if event == MeetingEvent.REQUESTED:
        answers = last_sent(lead, before=at)
        return record_outcome(
            lead, action=ActivityAction.MEETING_REQUESTED, channel=answers.channel if answers else "",
            provider=provider, event_id=event_id, at=at, answers=answers, metadata=metadata,
        ).activity  # fmt: skip
    if event == MeetingEvent.RESCHEDULED:
        return reschedule_meeting(lead, provider=provider, uid=uid, previous_uid=previous_uid, at=at, metadata=metadata)
    return cancel_meeting(lead, provider=provider, uid=uid, at=at, metadata=metadata)


def reschedule_meeting(
    lead: Lead, *, provider: str, uid: str, previous_uid: str, at: datetime, metadata: Mapping[str, JSONValue]
) -> Activity:
    """The meeting `previous_uid` named moved and is now `uid`: a `meeting_rescheduled` answering it, and the
    meeting's `start` moved to the new one. A meeting never heard of (booked before the webhook was set up) is
    booked now."""
    event_id = f"{MeetingEvent.RESCHEDULED}:{uid}"
    with transaction.atomic():
        booked = meeting(lead, provider=provider, uid=previous_uid) if previous_uid else None
        if booked is None:
            return record_booking(lead, source=provider, event_id=event_id, at=at, metadata=metadata)
        recorded = record_outcome(
            lead, action=ActivityAction.MEETING_RESCHEDULED, channel=booked.channel, provider=provider,
            event_id=event_id, at=at, answers=booked, metadata={**metadata, "previous_uid": previous_uid},
        )  # fmt: skip
        if recorded.created and "start" in metadata:
            moved = {**booked.metadata, "start": metadata["start"], "rescheduled_to": uid}
            Activity.objects.filter(pk=booked.pk).update(metadata=moved)
    return recorded.activity


def cancel_meeting(lead: Lead, *, provider: str, uid: str, at: datetime, metadata: Mapping[str, JSONValue]) -> Activity:
    """The meeting `uid` names was cancelled: a `meeting_cancelled` answering it. When it was booked and no
    other meeting of the lead stands (standing_meetings), the lead is no longer converted: back to `replied`
    (a person talked to it), `converted_at` cleared, and a person is asked to follow up (a `follow_up` task).
    Either way the touches' `led_to_booking` credit is re-derived from the meetings that stand, so learning
    stops counting the cancelled one. The sequence stays ended: nothing is planned again by itself."""
    with transaction.atomic():
        booked = meeting(lead, provider=provider, uid=uid)
        recorded = record_outcome(
            lead, action=ActivityAction.MEETING_CANCELLED, channel=booked.channel if booked else "",
            provider=provider, event_id=f"{MeetingEvent.CANCELLED}:{uid}", at=at, answers=booked,
            metadata=metadata,
        )  # fmt: skip
        if recorded.created and booked is not None and booked.action == ActivityAction.MEETING_BOOKED:
            meeting_cancelled(lead, booked, provider=provider, at=at)
    return recorded.activity


def meeting_cancelled(lead: Lead, booked: Activity, *, provider: str, at: datetime) -> None:
    """Apply the cancellation of the booked meeting `booked` (cancel_meeting's doc)."""
    recredit_bookings(lead)
    if standing_meetings(lead).exists() or booked_calls(lead).exists():
        return
    Lead.objects.filter(pk=lead.pk).update(converted_at=None)
    Lead.objects.filter(pk=lead.pk, status=LeadStatus.CONVERTED).update(status=LeadStatus.REPLIED)
    when = booked.metadata.get("start") or "no time given"
    open_follow_up(
        lead,
        message=f"The meeting booked through {provider} ({booked.metadata.get('title') or 'no title'}, "
        f"{when}) was cancelled. Get back to the lead to book it again or hear why.",
        due_at=at,
    )


def cancelled_before_booking(lead: Lead, *, provider: str, uid: str) -> Activity | None:
    """The cancellation of the meeting `uid`, stored before its booking arrived and answering nothing yet."""
    return Activity.objects.filter(
        lead=lead, provider=provider, provider_event_id=f"{MeetingEvent.CANCELLED}:{uid}", in_reply_to__isnull=True
    ).first()


def cancelled_since() -> Exists:
    """True for a `meeting_booked` Activity that a `meeting_cancelled` one answered since (in an outer query)."""
    return Exists(Activity.objects.filter(in_reply_to=OuterRef("pk"), action=ActivityAction.MEETING_CANCELLED))


def standing_meetings(lead: Lead) -> QuerySet[Activity]:
    """The lead's booked meetings not cancelled since (a booking recorded by hand counts: it has no uid)."""
    return Activity.objects.filter(lead=lead, action=ActivityAction.MEETING_BOOKED).exclude(cancelled_since())


def booked_calls(lead: Lead) -> QuerySet[Activity]:
    """The lead's calls that booked a meeting themselves (their outcome): a meeting no booking event can cancel."""
    return Activity.objects.filter(
        lead=lead, action=ActivityAction.VOICE_COMPLETED, metadata__outcome=ActivityAction.MEETING_BOOKED.value
    )


def recredit_bookings(lead: Lead) -> None:
    """Set `led_to_booking` on exactly the touches the standing meetings credit (events.credit_sequence), and
    on the calls that booked themselves."""
    flagged = Activity.objects.filter(lead=lead, action__in=SENT_ACTIONS, led_to_booking=True)
    flagged.exclude(pk__in=booked_calls(lead).values("pk")).update(led_to_booking=False)
    for booking in standing_meetings(lead).select_related("in_reply_to"):
        if booking.in_reply_to is not None and booking.in_reply_to.action in SENT_ACTIONS:
            credit_sequence(lead, booking.in_reply_to, booking.created_at)
