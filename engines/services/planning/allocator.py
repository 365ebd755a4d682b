"""Allocator: plan each lead's sequence from HOW patterns, schedule it by WHEN patterns, and save it.

The rules live in `engines.services.planning` (sequence rules, the calendar,
exploration, the touch writer); this module composes them into the public
`allocate_lead` / `allocate_leads`.

One live sequence per lead: allocating a lead that already has one does
nothing unless re-planning is asked for (`replan=True`). Each allocation
locks its lead rows and checks for a live plan again after taking the lock,
so concurrent allocations (signals, tasks, two command runs) leave exactly
one live sequence and never cancel a plan another allocation has just made.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from engines.db.features import can_write_alongside
from engines.exceptions import NotPlannable, PlanningError
from engines.json_types import JSONObject
from engines.rules.compliance import lead_country
from engines.rules.geography import lead_timezone, lead_timezone_name
from engines.rules.sending_window import sending_window
from engines.services.patterns import load_active_patterns
from engines.services.planning.calendar import (
    DEFAULT_BEST_DAYS,
    DEFAULT_BEST_HOURS,
    DEFAULT_GAPS,
    Place,
    Timing,
    timing_from,
    touch_slots,
)
from engines.services.planning.exploration import ExplorationRecord, Explorer
from engines.services.planning.plan import Allocation, Plan, Timeline, describe_touches
from engines.services.planning.sequence_rules import (
    ALLOCATABLE_STATUSES,
    DEFAULT_SEQUENCE,
    SEPARATOR,
    build_sequence,
    fit_to_lead,
    hot_voice_applies,
    lead_tier,
    plannable_channels,
    strategy,
    validate_sequence_override,
)
from engines.services.planning.touch_writer import (
    Progress,
    cancel_for_replan,
    insert_touches,
    leads_enrolled,
    leads_with_live_plan,
    lock_leads,
    progress_of,
)
from engines.services.planning.workers import run_batches
from outreach.models import (
    Client,
    Enrollment,
    EnrollmentState,
    Lead,
    LeadStatus,
    PatternType,
    ScheduledTouch,
    TouchStatus,
)
from outreach.models.choices import OPEN_ENROLLMENT_STATES

__all__ = [
    "ALLOCATABLE_STATUSES",
    "DEFAULT_BEST_DAYS",
    "DEFAULT_BEST_HOURS",
    "DEFAULT_GAPS",
    "DEFAULT_SEQUENCE",
    "Planner",
    "allocate_clients",
    "allocate_lead",
    "allocate_leads",
    "build_sequence",
    "leads_to_allocate",
    "timing_from",
    "validate_sequence_override",
]

logger = logging.getLogger("engines.allocator")

BULK_BATCH_SIZE = 2000
# Batches planned and written at once (PostgreSQL): two keep the database and Python both busy.
ALLOCATION_WORKERS = 2
COUNT_KEYS = ("allocated", "blocked", "skipped", "touches", "cancelled")

PlaceKey = tuple[str, str | None, str | None]
TimelineKey = tuple[PlaceKey, tuple[str, ...], frozenset[int], tuple[int, ...]]


@dataclass(frozen=True)
class _Choice:
    """What a lead's plan follows: its channels in order, its timing, the strategy and any exploration."""

    tier: str
    channels: tuple[str, ...]
    timing: Timing
    strategy: str
    patterns_used: dict[str, bool]
    exploration: ExplorationRecord | None = None


class Planner:
    """Plans leads of one client at one `now` under that client's active WHEN and HOW patterns.

    Sequences and timelines depend only on (tier, reachable channels) and
    (place, channels, preferred days and hours), so they are computed once
    per distinct key: planning thousands of leads costs a few dictionary
    lookups each. A share of plans (Client.exploration_rate) explores instead
    of following the patterns; `rng` makes its draws reproducible.
    """

    def __init__(self, client: Client, *, now: datetime, rng: np.random.Generator | None = None):
        self.client = client
        self.now = now
        when = load_active_patterns(client, PatternType.WHEN, now=now)
        self.how = load_active_patterns(client, PatternType.HOW, now=now)
        self.timing = timing_from(when)
        self.window = sending_window(client)
        outside = [hour for hour in self.timing.best_hours if not self.window.allows_hour(hour)]
        if when is not None and outside:
            logger.info(
                "client %s: WHEN hours %s are outside the sending window (%s); email and LinkedIn pass them over",
                client.pk, ", ".join(f"{hour:02d}:00" for hour in outside), self.window.describe(),
            )  # fmt: skip
        self.patterns_used = {"when": when is not None, "how": self.how is not None}
        self.strategy = SEPARATOR.join(strategy(self.how))
        self.explorer = Explorer(client.exploration_rate, self.how, when, rng, self.window)
        self._sequences: dict[tuple[str, frozenset[str]], tuple[str, ...]] = {}
        self._places: dict[PlaceKey, Place] = {}
        self._timelines: dict[TimelineKey, Timeline] = {}

    def plan(self, lead: Lead, sequence_override: object = None, *, progress: Progress | None = None) -> Plan:
        """The lead's plan (not saved); NotPlannable when the lead is past outreach or no channel can reach it.

        With `progress` (a re-plan of the lead's active enrollment) the plan
        keeps the enrollment and continues after the steps that went out, with
        their numbering; NotPlannable("sequence_complete") when the new plan
        has no step left after them.
        """
        if sequence_override is not None:
            choice = self._override(lead, sequence_override)
        else:
            choice = self._choose(lead)
        if progress is None or progress.done == 0:
            timeline = self._timeline(lead, choice.channels, choice.timing)
        else:
            timeline = self._continuation(lead, choice, progress)
        plan = Plan(lead, choice.tier, timeline, choice.patterns_used, choice.strategy, choice.exploration)
        if progress is not None:
            plan.enrollment_id, plan.sequence_id = progress.enrollment_id, progress.sequence_id
        return plan

    def another_sequence(self, previous: str) -> list[str] | None:
        """The best winning sequence of the client's HOW pattern other than `previous` (a strategy such as
        "email>linkedin"), for a re-enrolment; None when the pattern offers no other."""
        for entry in (self.how or {}).get("winning_sequences", []):
            if SEPARATOR.join(entry["sequence"]) != previous:
                return list(entry["sequence"])
        return None

    def _choose(self, lead: Lead) -> _Choice:
        reachable = plannable_channels(lead)
        tier = lead_tier(lead)
        drawn = self.explorer.draw()
        if drawn is None:
            key = (tier, reachable)
            channels = self._sequences.get(key)
            if channels is None:
                channels = self._sequences[key] = tuple(build_sequence(tier, self.how, reachable))
            return _Choice(tier, channels, self.timing, self.strategy, self.patterns_used)
        channels = tuple(fit_to_lead(drawn.sequence, tier, self.how, reachable))
        timing = Timing(frozenset(drawn.best_days), drawn.best_hours, self.timing.gaps)
        return _Choice(tier, channels, timing, SEPARATOR.join(drawn.sequence), self.patterns_used, drawn.record)

    def _override(self, lead: Lead, sequence_override: object) -> _Choice:
        requested = validate_sequence_override(sequence_override)
        reachable = plannable_channels(lead)
        channels = tuple(channel for channel in requested if channel in reachable)
        if not channels:
            raise NotPlannable(
                "no_reachable_channel",
                f"lead {lead.pk} cannot be reached on any channel of the sequence override",
            )
        used = {**self.patterns_used, "how": False}
        return _Choice(lead_tier(lead), channels, self.timing, SEPARATOR.join(requested), used)

    def _place(self, lead: Lead) -> tuple[PlaceKey, Place]:
        region = (getattr(lead, "region", "") or "").strip().upper() or None
        where = (lead_timezone_name(lead, self.client), lead_country(lead, self.client), region)
        place = self._places.get(where)
        if place is None:
            place = self._places[where] = Place(*where, window=self.window)
        return where, place

    def _timeline(self, lead: Lead, channels: tuple[str, ...], timing: Timing) -> Timeline:
        where, place = self._place(lead)
        key: TimelineKey = (where, channels, timing.best_days, timing.best_hours)
        found = self._timelines.get(key)
        if found is None:
            found = self._timelines[key] = Timeline(channels, touch_slots(place, channels, timing, self.now))
        return found

    def _continuation(self, lead: Lead, choice: _Choice, progress: Progress) -> Timeline:
        remaining = choice.channels[progress.done :]
        if not remaining:
            raise NotPlannable("sequence_complete", f"lead {lead.pk} has had every touch the new plan would send")
        first = progress.done + 1
        _, place = self._place(lead)
        slots = touch_slots(place, remaining, choice.timing, self.now, first_number=first, after=progress.last_at)
        return Timeline(remaining, slots, first_number=first)


def _clock(now: datetime | None) -> datetime:
    if now is None:
        return timezone.now()
    if timezone.is_naive(now):
        raise ValueError("now must be an aware datetime, such as django.utils.timezone.now()")
    return now


def planning_preferences(pattern_type: str, data: JSONObject | None) -> tuple[object, ...]:
    """What plans follow from a (valid) WHEN or HOW pattern: the best days, hours and gaps, or the sequence
    and the hot-lead voice rule. Two patterns with equal preferences plan alike (their exploration odds aside),
    so a new pattern that changes none needs no re-plan."""
    if pattern_type == PatternType.WHEN:
        timing = timing_from(data)
        return (sorted(timing.best_days), timing.best_hours, sorted(timing.gaps.items()))
    return (strategy(data), hot_voice_applies(data))


def allocate_lead(
    lead: Lead,
    client: Client | None = None,
    *,
    sequence_override: object = None,
    now: datetime | None = None,
    replan: bool = False,
    rng: np.random.Generator | None = None,
) -> Allocation:
    """Plan and save the lead's sequence; return the spec's allocation dict (plus sequence_id and "created").

    A lead is enrolled once: an enrolled lead keeps its enrollment (the dict
    describes it, "created" False), finished or not, unless `replan` and the
    enrollment is active: then its unsent steps are cancelled in the same
    transaction and the new plan continues after the steps that went out
    (their numbers and gaps), except when another allocation planned the lead
    while this one ran (that fresh plan stands). Raises NotPlannable (and
    saves nothing) when the lead cannot be contacted, a re-plan has no step
    left or the lead's enrollment has ended (re-enrolment is explicit:
    reenroll_lead), InvalidOverride for a malformed `sequence_override`.
    """
    started = timezone.now()
    now = _clock(now)
    client = client or lead.client
    planner = Planner(client, now=now, rng=rng)
    plan = planner.plan(lead, sequence_override)
    with transaction.atomic():
        # Concurrent allocations of one lead queue on this lock; each then sees what the one before committed.
        lock_leads([lead.pk])
        if replan and leads_with_live_plan([lead.pk], created_since=started):
            return _enrolled_plan(lead, client)
        progress = progress_of([lead.pk]).get(lead.pk) if replan else None
        if progress is None and leads_enrolled([lead.pk]):
            if replan:
                raise NotPlannable("enrollment_ended", f"lead {lead.pk}'s enrollment has ended: re-enrol it instead")
            return _enrolled_plan(lead, client)
        if progress is not None:
            plan = planner.plan(lead, sequence_override, progress=progress)
            cancel_for_replan([lead.pk])
        insert_touches([plan])
    return plan.as_dict()


def reenroll_lead(
    lead: Lead, *, sequence_override: object = None, now: datetime | None = None, rng: np.random.Generator | None = None
) -> Allocation:
    """Enrol again a lead whose last enrollment ended: on purpose (the admin's action, `allocate_leads
    --reenroll`), never by itself. The new enrollment follows another sequence than the last where the
    client's HOW pattern offers one, unless `sequence_override` names the sequence. NotPlannable when the
    lead is enrolled already or cannot be contacted (do-not-contact, unsubscribed, unreachable).
    """
    now = _clock(now)
    planner = Planner(lead.client, now=now, rng=rng)
    with transaction.atomic():
        # Planned from the row as locked, not from `lead` as the caller read it: a stop (do-not-contact, an
        # unsubscribe) committed since must refuse the new enrollment.
        locked = lock_leads([lead.pk])
        if not locked:
            raise NotPlannable("lead_deleted", f"lead {lead.pk} no longer exists")
        current = locked[0]
        last = _newest_enrollment(current)
        if last is not None and last.is_open:
            raise NotPlannable("already_enrolled", f"lead {lead.pk} is enrolled already ({last.state})")
        # A re-enrolled lead is in play again: its status follows the new enrollment.
        current.status = lead.status = LeadStatus.IN_SEQUENCE if current.touch_count else LeadStatus.NEW
        Lead.objects.filter(pk=lead.pk).update(status=current.status)
        if sequence_override is None and last is not None:
            sequence_override = planner.another_sequence(last.planned_sequence)
        plan = planner.plan(current, sequence_override)
        insert_touches([plan])
    return plan.as_dict()


def reenroll_leads(
    queryset: QuerySet[Lead], *, after_days: int, now: datetime | None = None, rng: np.random.Generator | None = None
) -> dict[str, int]:
    """Re-enrol those of the leads whose last enrollment finished (no reply) at least `after_days` ago;
    counts: reenrolled, blocked."""
    now = _clock(now)
    open_ = Exists(Enrollment.objects.filter(lead=OuterRef("pk"), state__in=OPEN_ENROLLMENT_STATES))
    finished = Exists(
        Enrollment.objects.filter(
            lead=OuterRef("pk"), state=EnrollmentState.FINISHED, ended_at__lte=now - timedelta(days=after_days)
        )
    )
    counts = {"reenrolled": 0, "blocked": 0}
    for lead in queryset.filter(finished).filter(~open_).select_related("client").order_by("pk"):
        last = _newest_enrollment(lead)
        if last is None or last.state != EnrollmentState.FINISHED:
            continue  # a later enrollment ended otherwise (replied, converted, stopped): not ours to restart
        try:
            reenroll_lead(lead, now=now, rng=rng)
        except PlanningError:
            counts["blocked"] += 1
        else:
            counts["reenrolled"] += 1
    return counts


def _newest_enrollment(lead: Lead) -> Enrollment | None:
    return Enrollment.objects.filter(lead_id=lead.pk).order_by("-started_at", "-pk").first()


def _enrolled_plan(lead: Lead, client: Client) -> Allocation:
    """The allocation dict of the lead's newest enrollment, as saved (its steps not cancelled)."""
    enrollment = _newest_enrollment(lead)
    if enrollment is None:
        raise NotPlannable("not_enrolled", f"lead {lead.pk} has no enrollment")
    sequence_id = enrollment.sequence_id
    steps = ScheduledTouch.objects.filter(enrollment=enrollment).order_by("touch_number", "-pk")
    rows = list(steps.exclude(status=TouchStatus.CANCELLED)) or list(steps)
    zone = lead_timezone(lead, client)
    return {
        "lead_id": lead.pk,
        "sequence_id": str(sequence_id),
        **describe_touches((row.touch_number, row.channel, row.scheduled_at.astimezone(zone)) for row in rows),
        "patterns_used": {},
        "planned_sequence": rows[0].planned_sequence,
        "is_exploration": rows[0].is_exploration,
        "exploration": rows[0].exploration or None,
        "created": False,
    }


def leads_to_allocate(client: Client | int | None = None, *, replan: bool = False) -> QuerySet[Lead]:
    """Leads a bulk run should plan: new or in sequence and never enrolled (with `replan`, also those whose
    enrollment is active)."""
    leads = Lead.objects.filter(status__in=ALLOCATABLE_STATUSES)
    if client is not None:
        leads = leads.filter(client=client)
    enrolled = Exists(Enrollment.objects.filter(lead=OuterRef("pk")))
    if not replan:
        return leads.filter(~enrolled)
    active = Exists(Enrollment.objects.filter(lead=OuterRef("pk"), state=EnrollmentState.ACTIVE))
    return leads.filter(~enrolled | active)


def allocate_leads(
    queryset: QuerySet[Lead],
    *,
    replan: bool = False,
    now: datetime | None = None,
    batch_size: int = BULK_BATCH_SIZE,
    progress: Callable[[int], object] | None = None,
    rng: np.random.Generator | None = None,
) -> dict[str, int]:
    """Plan and save sequences for many leads; counts: allocated, blocked, skipped, touches, cancelled.

    Patterns are loaded once per client. Each batch is one transaction: its
    leads are locked (skipping leads another allocation holds), leads with a
    live plan are skipped (with `replan`, only those planned since this run
    started), the unsent touches of re-planned leads are cancelled in one
    UPDATE (their new plans continuing after the touches that went out) and
    the new touches inserted at once (COPY on PostgreSQL). Leads that cannot
    be planned, or whose re-plan has no touch left, are counted as blocked
    and left as they are. On PostgreSQL outside a transaction, and without
    `rng`, ALLOCATION_WORKERS batches are planned and written at once, each
    on its own connection (planning.workers): one batch's writes and
    constraint checks run in the database while the next is planned.
    `progress(n)` is called after each batch with the number of leads done.

    Bulk writes fire no signals: nothing else is triggered by this run.
    """
    started = timezone.now()
    now = _clock(now)
    # Sorted in Python so a sliced queryset works too; lock order by pk avoids deadlocks between runs.
    ids = sorted(set(queryset.values_list("pk", flat=True)))
    batches = [ids[start : start + batch_size] for start in range(0, len(ids), batch_size)]

    def allocate(batch: list[int], planners: dict[int, Planner]) -> dict[str, int]:
        def planner_for(client_id: int) -> Planner:
            planner = planners.get(client_id)
            if planner is None:
                planner = planners[client_id] = Planner(Client.objects.get(pk=client_id), now=now, rng=rng)
            return planner

        counts = dict.fromkeys(COUNT_KEYS, 0)
        with transaction.atomic():
            _allocate_batch(batch, planner_for, counts, replan=replan, started=started)
        return counts

    # A given rng asks for reproducible draws: its batches go one after another.
    workers = ALLOCATION_WORKERS if rng is None and can_write_alongside() else 1
    totals = dict.fromkeys(COUNT_KEYS, 0)
    for batch, counts in run_batches(batches, allocate, state=dict, workers=workers):
        for key, value in counts.items():
            totals[key] += value
        if progress is not None:
            progress(len(batch))
    return totals


def _allocate_batch(
    batch: list[int], planner_for: Callable[[int], Planner], counts: dict[str, int], *, replan: bool, started: datetime
) -> None:
    leads = lock_leads(batch, skip_locked=True)
    ids = [lead.pk for lead in leads]
    if replan:
        busy = leads_with_live_plan(ids, created_since=started)
        progress = progress_of([pk for pk in ids if pk not in busy])
        busy |= leads_enrolled(ids) - set(progress)  # an ended enrollment is not planned again
    else:
        busy, progress = leads_enrolled(ids), {}
    counts["skipped"] += len(batch) - len(leads) + len(busy)
    plans: list[Plan] = []
    for lead in leads:
        if lead.pk in busy:
            continue
        try:
            plans.append(planner_for(lead.client_id).plan(lead, progress=progress.get(lead.pk)))
        except PlanningError:
            counts["blocked"] += 1
    if plans:
        if replan:
            counts["cancelled"] += cancel_for_replan([plan.lead.pk for plan in plans])
        counts["touches"] += insert_touches(plans)
        counts["allocated"] += len(plans)


def allocate_clients(
    clients: Iterable[Client],
    *,
    replan: bool = False,
    now: datetime | None = None,
    progress: Callable[[int], object] | None = None,
    rng: np.random.Generator | None = None,
) -> tuple[dict[str, int], list[tuple[Client, str]]]:
    """Allocate each client's leads in turn (`leads_to_allocate`); the summed counts and the clients that failed.

    One client's bad data must not stop the others: its error is logged with
    the traceback and returned as (client, message); batches it committed
    before failing stay.
    """
    totals = dict.fromkeys(COUNT_KEYS, 0)
    failures: list[tuple[Client, str]] = []
    for client in clients:
        try:
            leads = leads_to_allocate(client, replan=replan)
            counts = allocate_leads(leads, replan=replan, now=now, progress=progress, rng=rng)
        except Exception as error:  # one client's failure, whatever it is, is reported and the run goes on
            logger.exception("allocation for client %s failed", client.pk)
            failures.append((client, f"{type(error).__name__}: {error}"))
            continue
        for key, value in counts.items():
            totals[key] += value
    return totals, failures
