"""The changes a person (or a schedule) makes to a lead's journey: pause, resume, stop, re-enrol, do-not-contact
and its undo, and the per-channel opt-outs and opt-ins.

Each is one transaction that locks the lead row first (touch_writer.lock_leads), so two changes of one lead,
an allocation and a dispatcher's stop check queue behind each other, and each writes a JourneyEvent (action,
reason, who, note): the lead's audit trail. A refused change raises JourneyError with a machine-readable
`reason` and a message saying what to do instead; nothing is changed then. What stops contact (stop,
do-not-contact, an opt-out) goes through contact.stop_contact, with a StopReason on the steps and the
enrollment; the person's own reason is the journey event's.

The lead's status agrees with its enrollment: pausing and resuming keep it (new or in sequence), stopping a lead
that is new or in sequence closes it, re-enrolling makes it new or in sequence again (allocator.reenroll_lead).
A paused enrollment keeps its steps that went out; its unsent steps are cancelled ("paused") and planned again,
numbered after those, when it resumes.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from engines.exceptions import InvalidOverride, JourneyError, NotPlannable, PlanningError
from engines.services import later
from engines.services.journey.contact import STOPS, stop_contact
from engines.services.journey.enrollments import finish_completed
from engines.services.planning.allocator import allocate_lead, reenroll_lead
from engines.services.planning.sequence_rules import ALLOCATABLE_STATUSES, SEPARATOR
from engines.services.planning.touch_writer import cancel_touches, lock_leads
from outreach.models import Enrollment, EnrollmentState, JourneyEvent, Lead, LeadStatus, ScheduledTouch, StopReason
from outreach.models.choices import CHANNEL_OPT_OUTS, OPEN_ENROLLMENT_STATES

logger = logging.getLogger(__name__)

# What a person's stop closes: a lead still to be planned or in a sequence, or one that replied.
CLOSABLE_STATUSES = (*ALLOCATABLE_STATUSES, LeadStatus.REPLIED)


class JourneyAction(StrEnum):
    """What a JourneyEvent records (JourneyEvent.action)."""

    PAUSED = "paused"
    RESUMED = "resumed"
    RESUME_FAILED = "resume_failed"
    STOPPED = "stopped"
    DO_NOT_CONTACT_SET = "do_not_contact_set"
    DO_NOT_CONTACT_UNDONE = "do_not_contact_undone"
    REENROLLED = "reenrolled"
    OPTED_OUT = "opted_out"
    OPTED_IN = "opted_in"


@dataclass(frozen=True)
class Change:
    """What an action did: the event it recorded, the state of the enrollment it concerned afterwards ("" when
    none), and how many steps it cancelled and planned."""

    event: JourneyEvent
    state: str = ""
    cancelled: int = 0
    planned: int = 0


# ----------------------------------------------------------------------------
# Pause and resume
# ----------------------------------------------------------------------------


def pause(
    lead: Lead,
    *,
    by: AbstractBaseUser | None = None,
    reason: str = "paused_by_person",
    until: datetime | None = None,
    note: str = "",
) -> Change:
    """Pause the lead's active enrollment: its unsent steps are cancelled ("paused") and nothing goes out until
    it resumes, by a person or by itself at `until` (resume_due). JourneyError when it has no active enrollment
    or `until` is not an aware time in the future."""
    now = timezone.now()
    if until is not None and (timezone.is_naive(until) or until <= now):
        raise JourneyError(
            "invalid_resume_time", "the resume time must be in the future, with its time zone; or give none"
        )
    with transaction.atomic():
        current = _locked(lead)
        enrollment = _enrollment_of(current, (EnrollmentState.ACTIVE,))
        if enrollment is None:
            raise JourneyError("no_active_enrollment", _not_active(current, "pause"))
        cancelled = cancel_touches(ScheduledTouch.objects.filter(enrollment=enrollment), reason=StopReason.PAUSED)
        Enrollment.objects.filter(pk=enrollment.pk).update(
            state=EnrollmentState.PAUSED, resume_at=until, updated_at=now
        )
        event = _record(current, JourneyAction.PAUSED, enrollment=enrollment, reason=reason, by=by, note=note)
    return Change(event, EnrollmentState.PAUSED, cancelled=cancelled)


def resume(
    lead: Lead,
    *,
    by: AbstractBaseUser | None = None,
    note: str = "",
    now: datetime | None = None,
    reason: str = "resumed_by_person",
) -> Change:
    """Resume the lead's paused enrollment: it is active again and its remaining steps are planned from `now`,
    numbered after the steps that went out (allocate_lead(replan=True)). When none is left, it finishes.

    JourneyError, with the enrollment left paused, when it is not paused or the lead may not be contacted now
    (the allocator's reason: "do_not_contact", "unsubscribed", "no_reachable_channel", ...).
    """
    with transaction.atomic():
        current = _locked(lead)
        enrollment = _enrollment_of(current, (EnrollmentState.PAUSED,))
        if enrollment is None:
            raise JourneyError("not_paused", _not_paused(current))
        Enrollment.objects.filter(pk=enrollment.pk).update(
            state=EnrollmentState.ACTIVE, resume_at=None, updated_at=timezone.now()
        )
        planned = _replan_resumed(current, now=now)
        state = _state_of(enrollment)
        event = _record(current, JourneyAction.RESUMED, enrollment=enrollment, reason=reason, by=by, note=note)
    lead.status = current.status
    return Change(event, state, planned=planned)


def _replan_resumed(lead: Lead, *, now: datetime | None) -> int:
    """Plan the resumed enrollment's remaining steps (it finishes when none is left); how many. JourneyError,
    rolling the caller's transaction back, when the lead may not be planned."""
    try:
        allocation = allocate_lead(lead, replan=True, now=now)
    except NotPlannable as error:
        if error.reason != "sequence_complete":
            raise JourneyError(error.reason, f"cannot resume {lead}: {error}; it stays paused") from error
        # Every step went out before the pause: the enrollment is done.
        finish_completed([lead.pk])
        lead.refresh_from_db(fields=["status"])
        return 0
    except PlanningError as error:
        raise JourneyError("not_plannable", f"cannot resume {lead}: {error}; it stays paused") from error
    return len(allocation["scheduled_touches"])


def resume_due(now: datetime | None = None) -> int:
    """Resume the paused enrollments whose resume time has come (each dispatcher run does, before it claims:
    engines.signals); how many resumed.

    One that cannot resume (the lead may no longer be contacted) stays paused without its resume time, so a
    person decides, and a "resume_failed" event says why.
    """
    now = now or timezone.now()
    due = (
        Enrollment.objects.filter(state=EnrollmentState.PAUSED, resume_at__lte=now)
        .select_related("lead", "lead__client")
        .order_by("resume_at", "pk")
    )
    resumed = 0
    for enrollment in list(due):
        try:
            resume(enrollment.lead, now=now, reason="resume_time_reached")
        except JourneyError as error:
            _give_up_resuming(enrollment, error, now)
        else:
            resumed += 1
    return resumed


def _give_up_resuming(enrollment: Enrollment, error: JourneyError, now: datetime) -> None:
    logger.warning("paused enrollment %s could not resume: %s", enrollment.pk, error)
    with transaction.atomic():
        current = _locked(enrollment.lead)
        waiting = Enrollment.objects.filter(pk=enrollment.pk, state=EnrollmentState.PAUSED, resume_at__lte=now)
        if waiting.update(resume_at=None, updated_at=timezone.now()):
            _record(current, JourneyAction.RESUME_FAILED, enrollment=enrollment, reason=error.reason, note=str(error))


# ----------------------------------------------------------------------------
# Stop, re-enrol
# ----------------------------------------------------------------------------


def stop(
    lead: Lead, *, by: AbstractBaseUser | None = None, reason: str = "stopped_by_person", note: str = ""
) -> Change:
    """End the lead's open enrollment (stopped) and cancel its unsent steps, without do-not-contact; a lead that
    is new, in sequence or replied (a person ends the conversation: not interested, wrong person) is closed.
    The steps and the enrollment say StopReason.STOPPED; `reason`, the person's own words, goes to the journey
    event. JourneyError when there is nothing to stop (no open enrollment, and the lead converted, finished or
    is closed already)."""
    with transaction.atomic():
        current = _locked(lead)
        enrollment = _enrollment_of(current, OPEN_ENROLLMENT_STATES)
        if enrollment is None and current.status not in CLOSABLE_STATUSES:
            raise JourneyError(
                "nothing_to_stop",
                f"{current} has no open enrollment and is {current.get_status_display().lower()}: nothing to stop",
            )
        cancelled = stop_contact(current, StopReason.STOPPED)
        if current.status in CLOSABLE_STATUSES:
            # An update, not a save: the save's receiver would cancel again under another reason.
            Lead.objects.filter(pk=current.pk).update(status=LeadStatus.CLOSED)
            current.status = lead.status = LeadStatus.CLOSED
        state = _state_of(enrollment)
        event = _record(current, JourneyAction.STOPPED, enrollment=enrollment, reason=reason, by=by, note=note)
    return Change(event, state, cancelled=cancelled)


def reenroll(
    lead: Lead, *, by: AbstractBaseUser | None = None, sequence: Sequence[str] | None = None, note: str = ""
) -> Change:
    """Start a new enrollment for a lead whose last one ended: on `sequence` (channel names in order, or one
    string such as "email>linkedin>sms") when given, else the client's (allocator.reenroll_lead). JourneyError
    when the lead is enrolled already, may not be contacted or the sequence is malformed."""
    override = sequence_channels(sequence)
    with transaction.atomic():
        current = _locked(lead)
        try:
            allocation = reenroll_lead(current, sequence_override=override)
        except NotPlannable as error:
            raise JourneyError(error.reason, f"cannot re-enrol {current}: {error}") from error
        except InvalidOverride as error:
            raise JourneyError("invalid_sequence", f"{error}: give channels like email>linkedin>sms") from error
        except PlanningError as error:
            raise JourneyError("not_plannable", f"cannot re-enrol {current}: {error}") from error
        enrollment = Enrollment.objects.get(sequence_id=allocation["sequence_id"])
        reason = "chosen_sequence" if override else "client_sequence"
        event = _record(current, JourneyAction.REENROLLED, enrollment=enrollment, reason=reason, by=by, note=note)
    lead.status = current.status
    return Change(event, EnrollmentState.ACTIVE, planned=len(allocation["scheduled_touches"]))


def sequence_channels(sequence: Sequence[str] | None) -> list[str] | None:
    """The channels a person named for a sequence ("email>linkedin>sms", or a list), trimmed and lower-case;
    None for none named. JourneyError when no channel is named."""
    if sequence is None:
        return None
    parts = sequence.split(SEPARATOR) if isinstance(sequence, str) else list(sequence)
    channels = [part.strip().lower() for part in parts if part.strip()]
    if not channels:
        raise JourneyError("invalid_sequence", "name at least one channel, like email>linkedin>sms")
    return channels


# ----------------------------------------------------------------------------
# Do-not-contact, opt-out and opt-in
# ----------------------------------------------------------------------------


def set_do_not_contact(
    lead: Lead, *, by: AbstractBaseUser | None = None, note: str = "", reason: str = StopReason.DO_NOT_CONTACT
) -> Change:
    """Mark the lead do-not-contact: its unsent steps are cancelled and its open enrollment ends (opted out),
    both with StopReason.DO_NOT_CONTACT; `reason` goes to the journey event. JourneyError when it is
    do-not-contact already."""
    with transaction.atomic():
        current = _locked(lead)
        if current.do_not_contact:
            raise JourneyError("already_do_not_contact", f"{current} is do-not-contact already")
        enrollment = _enrollment_of(current, OPEN_ENROLLMENT_STATES)
        cancelled = stop_contact(current, StopReason.DO_NOT_CONTACT)
        # The flag is written with an update, which fires no receiver; the score reads it, so ask for the
        # rescore a save of it would have asked for.
        transaction.on_commit(lambda: later.queue().score_lead(current.pk), robust=True)
        event = _record(
            current, JourneyAction.DO_NOT_CONTACT_SET, enrollment=enrollment, reason=reason, by=by, note=note
        )
    lead.do_not_contact = True
    return Change(event, _state_of(enrollment), cancelled=cancelled)


def undo_do_not_contact(lead: Lead, *, by: AbstractBaseUser | None, reason: str, note: str = "") -> Change:
    """The lead may be contacted again; `reason` (required) says why, `by` who decided. The lead is not
    re-enrolled: re-enrol it to start a sequence. JourneyError when it is not do-not-contact or no reason is
    given."""
    reason = _required(reason, "say why the lead may be contacted again")
    with transaction.atomic():
        current = _locked(lead)
        if not current.do_not_contact:
            raise JourneyError("not_do_not_contact", f"{current} is not do-not-contact: there is nothing to undo")
        _clear_flag(current, "do_not_contact")
        event = _record(current, JourneyAction.DO_NOT_CONTACT_UNDONE, reason=reason, by=by, note=note)
    lead.do_not_contact = False
    return Change(event)


def opt_out(lead: Lead, channel: str, *, by: AbstractBaseUser | None = None, reason: str, note: str = "") -> Change:
    """Opt the lead out of one channel: its unsent steps on that channel are cancelled with the channel's
    opt-out (StopReason.SMS_OPTED_OUT, ...; the enrollment finishes when no step is left on the others);
    `reason` goes to the journey event. JourneyError for an unknown channel or one already opted out of."""
    stop = _opt_out(channel)
    flag = STOPS[stop].flag
    reason = _required(reason, "say why the lead is opted out")
    with transaction.atomic():
        current = _locked(lead)
        if getattr(current, flag):
            raise JourneyError("already_opted_out", f"{current} is opted out of {channel} already")
        enrollment = _enrollment_of(current, OPEN_ENROLLMENT_STATES)
        cancelled = stop_contact(current, stop)
        event = _record(current, JourneyAction.OPTED_OUT, enrollment=enrollment, reason=reason, by=by, note=note)
    setattr(lead, flag, True)
    return Change(event, _state_of(enrollment), cancelled=cancelled)


def opt_in(lead: Lead, channel: str, *, by: AbstractBaseUser | None = None, reason: str, note: str = "") -> Change:
    """The lead may be reached on `channel` again. Steps cancelled by the opt-out stay cancelled: re-plan or
    re-enrol the lead to use the channel. JourneyError for an unknown channel or one not opted out of."""
    flag = STOPS[_opt_out(channel)].flag
    reason = _required(reason, "say why the lead may be reached on this channel again")
    with transaction.atomic():
        current = _locked(lead)
        if not getattr(current, flag):
            raise JourneyError("not_opted_out", f"{current} is not opted out of {channel}")
        _clear_flag(current, flag)
        event = _record(current, JourneyAction.OPTED_IN, reason=reason, by=by, note=note)
    setattr(lead, flag, False)
    return Change(event)


def _opt_out(channel: str) -> StopReason:
    stop = CHANNEL_OPT_OUTS.get(channel)
    if stop is None:
        raise JourneyError("unknown_channel", f"unknown channel {channel!r}: one of {', '.join(CHANNEL_OPT_OUTS)}")
    return stop


def _clear_flag(lead: Lead, flag: str) -> None:
    """Save one contact flag of the locked lead turned off (the lead may be contacted again); its receivers
    rescore or plan the lead as for any save. Turning one on is a stop: contact.stop_contact."""
    setattr(lead, flag, False)
    lead.save(update_fields=[flag])


# ----------------------------------------------------------------------------
# Shared
# ----------------------------------------------------------------------------


def _locked(lead: Lead) -> Lead:
    """The lead's row, locked for the caller's transaction and read afresh."""
    found = lock_leads([lead.pk])
    if not found:
        raise JourneyError("lead_not_found", f"lead {lead.pk} no longer exists")
    return found[0]


def _enrollment_of(lead: Lead, states: Collection[str]) -> Enrollment | None:
    return Enrollment.objects.filter(lead_id=lead.pk, state__in=list(states)).first()


def _state_of(enrollment: Enrollment | None) -> str:
    if enrollment is None:
        return ""
    return Enrollment.objects.filter(pk=enrollment.pk).values_list("state", flat=True).first() or ""


def _required(text: str, what: str) -> str:
    if not isinstance(text, str) or not text.strip():
        raise JourneyError("reason_required", f"a reason is required: {what}")
    return text.strip()


def _not_active(lead: Lead, verb: str) -> str:
    if _enrollment_of(lead, (EnrollmentState.PAUSED,)) is not None:
        return f"{lead}'s enrollment is paused already: resume it first"
    return f"{lead} has no active enrollment to {verb}: re-enrol it to start one"


def _not_paused(lead: Lead) -> str:
    if _enrollment_of(lead, (EnrollmentState.ACTIVE,)) is not None:
        return f"{lead}'s enrollment is active, not paused: nothing to resume"
    return f"{lead} has no paused enrollment: re-enrol it to start a new one"


def _record(
    lead: Lead,
    action: JourneyAction,
    *,
    reason: str,
    enrollment: Enrollment | None = None,
    by: AbstractBaseUser | None = None,
    note: str = "",
) -> JourneyEvent:
    return JourneyEvent.objects.create(
        client_id=lead.client_id,
        lead_id=lead.pk,
        enrollment_id=None if enrollment is None else enrollment.pk,
        action=action.value,
        reason=reason[:120],
        by_id=None if by is None else by.pk,
        note=note,
        at=timezone.now(),
    )
