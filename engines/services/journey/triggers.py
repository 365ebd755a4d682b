"""What a saved lead, client or pattern sets in motion: the services behind the receivers of engines/signals.py.

- A lead created, or changed in a field its score reads (or moved to another client): scored, by a task.
- A scored, new, reachable lead with no live sequence: allocated, by a task. (A lead in sequence whose
  plan ran out is not planned again by a save; `allocate_leads` re-plans deliberately.)
- A lead that stops being contactable (do-not-contact, unsubscribed, a channel opt-out, a bounce, an
  unusable phone, status replied / converted / closed): its unsent touches of the channels concerned are
  cancelled at once, in the transaction that saved it, so they are gone by the time `save()` returns.
- A new activated WHO pattern, or new `Client.als_learned_weights` or `icp`: the client's open leads are
  rescored in bulk. A new activated HOW or WHEN pattern: the client's unsent plans are re-planned in bulk.

Tasks are enqueued with `transaction.on_commit`, so they see what was saved and nothing is enqueued for a
rolled-back save. Bulk writes (bulk_create, COPY, `queryset.update`) fire no signals: each bulk path says
in its docstring what it triggers instead, as the two bulk services below do.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet

from engines.rules.compliance import reachable_channels
from engines.rules.pattern_checks import pattern_errors
from engines.services import later
from engines.services.journey import contact
from engines.services.journey.contact import FLAG_STOPS
from engines.services.patterns import get_active_pattern
from engines.services.planning.allocator import ALLOCATABLE_STATUSES, allocate_leads, planning_preferences
from engines.services.scoring.lead_score import LEAD_COLUMNS, score_leads
from outreach.models import (
    Client,
    ConversionPattern,
    Enrollment,
    Lead,
    LeadStatus,
    PatternType,
    ScheduledTouch,
    TouchStatus,
)
from outreach.models.choices import LEAD_STATUS_STOPS

logger = logging.getLogger(__name__)

# What the score reads from the lead; the client's weights and ICP are watched on the client.
SCORE_INPUTS = (*LEAD_COLUMNS, "client_id")
WATCHED_LEAD_FIELDS = tuple(dict.fromkeys((*SCORE_INPUTS, *FLAG_STOPS, "status")))
WATCHED_CLIENT_FIELDS = ("als_learned_weights", "icp")
# Where the values a lead had before its save are kept between pre_save and post_save.
BEFORE = "_engines_before_save"


def on_commit(work: Callable[[], None]) -> None:
    """Hand `work` to the queue once the current transaction commits (at once outside one)."""
    transaction.on_commit(work, robust=True)


def _stored(model: type[Lead] | type[Client], pk: int, fields: Iterable[str]) -> dict[str, object] | None:
    fields = list(fields)
    return model.objects.filter(pk=pk).values(*fields).first() if fields else {}


def _watched(fields: tuple[str, ...], update_fields: Iterable[str] | None) -> list[str]:
    """The watched fields a save writes (`update_fields` names fields, their columns end in _id)."""
    if update_fields is None:
        return list(fields)
    named = {name.removesuffix("_id") for name in update_fields}
    return [field for field in fields if field.removesuffix("_id") in named]


# ----------------------------------------------------------------------------
# Leads
# ----------------------------------------------------------------------------


def remember_lead(lead: Lead, *, raw: bool = False, update_fields: Iterable[str] | None = None) -> None:
    """pre_save: keep the stored values of the watched fields this save writes (None for a new lead)."""
    if raw or lead._state.adding:
        setattr(lead, BEFORE, None)
        return
    setattr(lead, BEFORE, _stored(Lead, lead.pk, _watched(WATCHED_LEAD_FIELDS, update_fields)))


def _turned_on(lead: Lead, before: dict[str, object], field: str) -> bool:
    return field in before and not before[field] and bool(getattr(lead, field))


def stop_contact(lead: Lead, before: dict[str, object]) -> int:
    """Stop the contact a change to the lead forbids (contact.stop_contact, in the caller's transaction): a status
    a person deals with (LEAD_STATUS_STOPS), a flag turned on (contact.FLAG_STOPS); how many touches were
    cancelled."""
    cancelled = 0
    if "status" in before and before["status"] not in LEAD_STATUS_STOPS and lead.status in LEAD_STATUS_STOPS:
        cancelled += contact.stop_contact(lead, LEAD_STATUS_STOPS[lead.status])
    for flag, reason in FLAG_STOPS.items():
        if _turned_on(lead, before, flag):
            cancelled += contact.stop_contact(lead, reason)
    return cancelled


def may_want_allocation(lead: Lead) -> bool:
    """Scored, new and reachable on some channel (read from the instance: no query on the save path)."""
    return lead.als_score is not None and lead.status == LeadStatus.NEW and bool(reachable_channels(lead))


def wants_allocation(lead: Lead) -> bool:
    """Scored, new, reachable on some channel, and never enrolled (re-enrolment is explicit)."""
    return may_want_allocation(lead) and not Enrollment.objects.filter(lead_id=lead.pk).exists()


def lead_saved(lead: Lead, *, created: bool, raw: bool = False) -> None:
    """post_save: stop contact now when the lead asked for it, then enqueue scoring or allocation."""
    if raw:
        return
    before: dict[str, object] | None = getattr(lead, BEFORE, None)
    if before is not None:
        stop_contact(lead, before)
    changed = before is not None and any(
        field in before and before[field] != getattr(lead, field) for field in SCORE_INPUTS
    )
    if created or changed:
        # Its score save comes back here and allocates with the new tier.
        on_commit(lambda: later.queue().score_lead(lead.pk))
    elif may_want_allocation(lead):
        # The task checks for a live sequence: a query here would slow every save of a planned lead.
        on_commit(lambda: later.queue().plan_lead(lead.pk))


# ----------------------------------------------------------------------------
# Clients and patterns
# ----------------------------------------------------------------------------


def remember_client(client: Client, *, raw: bool = False, update_fields: Iterable[str] | None = None) -> None:
    if raw or client._state.adding:
        setattr(client, BEFORE, None)
        return
    setattr(client, BEFORE, _stored(Client, client.pk, _watched(WATCHED_CLIENT_FIELDS, update_fields)))


def client_saved(client: Client, *, raw: bool = False) -> None:
    """post_save: new learned weights or a new ICP change every open lead's score."""
    before: dict[str, object] | None = None if raw else getattr(client, BEFORE, None)
    if before and any(before[field] != getattr(client, field) for field in before):
        on_commit(lambda: later.queue().rescore_client(client.pk))


def pattern_saved(pattern: ConversionPattern, *, raw: bool = False) -> None:
    """post_save: an activated WHO pattern rescores the client's leads; HOW or WHEN re-plans its unsent touches."""
    if raw or not pattern.activated:
        return
    if pattern.pattern_type == PatternType.WHO:
        on_commit(lambda: later.queue().rescore_client(pattern.client_id))
    elif pattern.pattern_type in (PatternType.HOW, PatternType.WHEN) and changes_plans(pattern):
        on_commit(lambda: later.queue().replan_client(pattern.client_id))


def changes_plans(pattern: ConversionPattern) -> bool:
    """Whether plans made under this new WHEN or HOW pattern differ from those under the one active before it.

    The nightly detection saves a new pattern every night; most nights its
    counts move but its preferences (best days, hours, gaps; sequence) do not,
    and re-planning every open lead then would change nothing.
    """
    if pattern_errors(pattern.pattern_type, pattern.patterns):
        return False  # consumers skip an invalid pattern
    before = get_active_pattern(pattern.client_id, pattern.pattern_type, now=pattern.computed_at, excluding=pattern.pk)
    previous = None if before is None else before.patterns
    return planning_preferences(pattern.pattern_type, pattern.patterns) != planning_preferences(
        pattern.pattern_type, previous
    )


# ----------------------------------------------------------------------------
# The bulk work those enqueue
# ----------------------------------------------------------------------------


def open_leads(client: Client) -> QuerySet[Lead]:
    """The client's leads still in play: new or in sequence."""
    return Lead.objects.filter(client=client, status__in=ALLOCATABLE_STATUSES)


def rescore_client(client: Client, *, now: datetime | None = None) -> dict[str, int]:
    """Rescore the client's open leads in bulk, then plan its scored new leads that have no live sequence.

    Both steps are bulk writes and fire no signals: this function does
    explicitly what a lead's save would have set in motion (allocation of a
    scored, new, unplanned lead; plans of leads in sequence are left as they are).
    """
    enrolled = Enrollment.objects.filter(lead=OuterRef("pk"))
    unplanned = Lead.objects.filter(client=client, status=LeadStatus.NEW, als_score__isnull=False).filter(
        ~Exists(enrolled)
    )
    return score_then_plan(open_leads(client), unplanned, now=now)


def score_then_plan(
    to_score: QuerySet[Lead], to_plan: QuerySet[Lead], *, now: datetime | None = None
) -> dict[str, int]:
    """Score `to_score`, then plan those of `to_plan` without a live sequence; counts scored, allocated, blocked.

    Bulk writes that fire no signals: this does what the leads' saves would have set in motion.
    Safe to run twice: scores are recomputed and a lead with a live plan keeps it.
    """
    scored = score_leads(to_score, now=now)
    planned = allocate_leads(to_plan, now=now)
    return {"scored": scored, **planned}


# Leads scored and planned per round of an import's task, so its memory stays bounded.
IMPORT_BATCH_SIZE = 2000


def score_and_plan_leads(client: Client, lead_ids: Sequence[int]) -> dict[str, int]:
    """Score, then plan, those of `lead_ids` that are still leads of `client` (an import's new and updated leads)."""
    counts = {"scored": 0, "allocated": 0, "blocked": 0}
    ids = sorted(set(lead_ids))
    for start in range(0, len(ids), IMPORT_BATCH_SIZE):
        leads = Lead.objects.filter(client=client, pk__in=ids[start : start + IMPORT_BATCH_SIZE])
        done = score_then_plan(leads, leads)
        for key in counts:
            counts[key] += done[key]
    return counts


def replan_client(client: Client, *, now: datetime | None = None) -> dict[str, int]:
    """Re-plan, in bulk, the open leads of the client that have planned touches (under its new patterns).

    The allocator replaces the unsent touches and leaves sent ones alone. It
    writes with bulk inserts (COPY on PostgreSQL), which fire no signals;
    nothing listens to new touches, so nothing else is owed.
    """
    planned = ScheduledTouch.objects.filter(lead=OuterRef("pk"), status=TouchStatus.PLANNED)
    return allocate_leads(open_leads(client).filter(Exists(planned)), replan=True, now=now)
