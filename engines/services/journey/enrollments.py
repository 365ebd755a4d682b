"""Enrollments: a lead in one planned sequence, from its first step to the reason it ended.

An enrollment is active while a step may still go out. It ends, once, in the
state its ending says: finished when every step went out (or can no longer
go out) with no answer, replied, converted, bounced, opted out, or stopped. A
lead is shown as finished when its enrollment finished; a reply or a booking
still moves a finished lead on.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from engines.db.enrollments import finish_without_live_steps
from outreach.models import Enrollment, EnrollmentState, Lead, LeadStatus, StopReason
from outreach.models.choices import LEAD_STATUS_STOPS, LIVE_TOUCH_STATUSES, OPEN_ENROLLMENT_STATES

# The state an enrollment ends in, by the reason every channel stopped (the touches' cancellation reason).
ENDED_BY: dict[StopReason, EnrollmentState] = {
    StopReason.REPLIED: EnrollmentState.REPLIED,
    StopReason.CONVERTED: EnrollmentState.CONVERTED,
    StopReason.BOUNCED: EnrollmentState.BOUNCED,
    StopReason.UNSUBSCRIBED: EnrollmentState.OPTED_OUT,
    StopReason.DO_NOT_CONTACT: EnrollmentState.OPTED_OUT,
    StopReason.COMPLAINED: EnrollmentState.OPTED_OUT,
}


# Lead statuses that show a sequence still running: an enrollment's end turns them into "finished" or "closed"
# (a lead that answered or is closed keeps its own).
SHOWN_IN_SEQUENCE = (LeadStatus.NEW, LeadStatus.IN_SEQUENCE)

# Enrollment endings that leave the lead closed (not contacted any more) unless its status says more already.
_CLOSING = (EnrollmentState.BOUNCED, EnrollmentState.OPTED_OUT, EnrollmentState.STOPPED)


def ended_state(reason: StopReason) -> EnrollmentState:
    """The state an enrollment ends in when every channel stops for `reason` (stopped, unless ENDED_BY says
    more)."""
    return ENDED_BY.get(reason, EnrollmentState.STOPPED)


def end_open_enrollment(lead_id: int, *, reason: StopReason, at: datetime | None = None) -> int:
    """End the lead's open enrollment because contact stopped for `reason`; how many ended (0 or 1).

    A lead still shown new or in sequence is then shown closed, unless it replied or converted (the caller
    records those statuses with the outcome)."""
    state = ended_state(reason)
    ended = Enrollment.objects.filter(lead_id=lead_id, state__in=OPEN_ENROLLMENT_STATES).update(
        state=state, ended_at=at or timezone.now(), end_reason=reason, updated_at=timezone.now()
    )
    if ended and state in _CLOSING:
        Lead.objects.filter(pk=lead_id, status__in=SHOWN_IN_SEQUENCE).update(status=LeadStatus.CLOSED)
    return ended


def finish_completed(lead_ids: Collection[int], *, at: datetime | None = None) -> int:
    """Finish the active enrollments of these leads that have no step left to go out, and show those leads as
    finished (a lead that replied or converted keeps that status); how many finished."""
    leads = finish_enrollments(lead_ids, at=at)
    if leads:
        Lead.objects.filter(pk__in=leads, status__in=SHOWN_IN_SEQUENCE).update(status=LeadStatus.FINISHED)
    return len(leads)


def finish_enrollments(lead_ids: Collection[int], *, at: datetime | None = None) -> list[int]:
    """finish_completed without showing the leads as finished (the caller writes their status, and only those
    still shown in SHOWN_IN_SEQUENCE change): the leads whose enrollment finished."""
    return finish_without_live_steps(
        lead_ids,
        at=at or timezone.now(),
        live_statuses=[status.value for status in LIVE_TOUCH_STATUSES],
        active=EnrollmentState.ACTIVE.value,
        finished=EnrollmentState.FINISHED.value,
        reason=StopReason.FINISHED.value,
    )


def status_disagreements(leads: QuerySet[Lead]) -> QuerySet[Lead]:
    """Those of `leads` whose status says something their enrollments do not: shown new or in a sequence with
    enrollments none of which is open, finished while their newest enrollment is not, or answered or closed
    with an enrollment still active. Empty when the journey service wrote every change (the demo and the
    journey's property tests check it)."""
    enrollments = Enrollment.objects.filter(lead=OuterRef("pk"))
    newest_state = Subquery(enrollments.order_by("-started_at", "-pk").values("state")[:1])
    return leads.annotate(newest_state=newest_state).filter(
        Q(
            status__in=SHOWN_IN_SEQUENCE,
            newest_state__isnull=False,
        )
        & ~Exists(enrollments.filter(state__in=OPEN_ENROLLMENT_STATES))
        | Q(status=LeadStatus.FINISHED) & ~Q(newest_state=EnrollmentState.FINISHED)
        | Q(status__in=tuple(LEAD_STATUS_STOPS)) & Exists(enrollments.filter(state=EnrollmentState.ACTIVE))
    )
