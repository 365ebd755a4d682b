"""Allocator: plan each lead's sequence from HOW patterns and schedule it by WHEN patterns.

Sequence (HOW): the top winning sequence (first six channels) or
DEFAULT_SEQUENCE; `best_first_channel` replaces the first channel; a hot lead
gets voice at touch 3 when the hot tier's voice conversion rate is above 0.15.
Channels the lead cannot be reached on are dropped and the rest renumbered.

Schedule (WHEN): every touch lands on a preferred day at a preferred hour of
the lead's *local* wall clock, skipping public holidays of the lead's country,
keeping SMS and calls inside legal contact hours, no earlier than the previous
touch plus its gap and always after `now`.

Gaps are measured on the lead's wall clock, so "2 days" after Saturday 10:00
is Monday 10:00 even when a daylight-saving change shortens the weekend to 47
hours. Fractional gaps (the WHEN schema allows them) are minimum waits: 1.5
days after Tuesday 10:00 is Wednesday 22:00, so the touch goes at the next
preferred slot after that.
"""

from __future__ import annotations

import functools
import uuid
import zoneinfo
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from engines.exceptions import EngineError, SendBlocked
from engines.services.compliance import (
    TIMED_CHANNELS,
    channel_block_reason,
    is_public_holiday,
    lead_country,
    reachable_channels,
    within_contact_hours,
)
from engines.services.geo import lead_timezone_name
from engines.services.patterns import CHANNELS, load_active_patterns
from engines.services.scorer import als_tier
from outreach.models import Channel, Client, Lead, LeadStatus, PatternType, ScheduledTouch, Tier, TouchStatus

DEFAULT_SEQUENCE = ["email", "linkedin", "email", "sms", "voice", "email"]

DEFAULT_GAPS = {
    "touch_1_to_2": 2,
    "touch_2_to_3": 3,
    "touch_3_to_4": 4,
    "touch_4_to_5": 5,
    "touch_5_to_6": 7,
}

DEFAULT_BEST_DAYS = [1, 2, 3]  # Tuesday, Wednesday, Thursday (0=Monday)
DEFAULT_BEST_HOURS = [10, 14, 9]  # 10am, 2pm, 9am, best first

MAX_PATTERN_TOUCHES = 6
# The spec's gap for a touch neither the pattern nor DEFAULT_GAPS covers (an override longer than six).
FALLBACK_GAP_DAYS = 3
# The spec scores an unscored lead as 50, i.e. warm.
UNSCORED_ALS = 50
HOT_VOICE_RATE = 0.15
HOT_VOICE_INDEX = 2  # touch 3
TOP_PREFERENCES = 3
PREFERRED_SEARCH_DAYS = 14
# The business-day fallback gives up after a year: only a contact-hours setting with no window can get there.
FALLBACK_SEARCH_DAYS = 366
BULK_BATCH_SIZE = 2000
# Statuses a bulk run plans: replied, converted and closed leads are not contacted again.
ALLOCATABLE_STATUSES = (LeadStatus.NEW, LeadStatus.IN_SEQUENCE)

ONE_DAY = timedelta(days=1)


# ----------------------------------------------------------------------------
# Sequence (HOW)
# ----------------------------------------------------------------------------


def lead_tier(lead: Any) -> str:
    score = getattr(lead, "als_score", None)
    return als_tier(UNSCORED_ALS if score is None else score)


def _reachable(lead: Any) -> frozenset[str]:
    """The channels that can reach the lead; SendBlocked with the reason when none can."""
    reachable = frozenset(reachable_channels(lead))
    if not reachable:
        # do_not_contact and unsubscribed block every channel alike; anything else is per channel.
        shared = channel_block_reason(lead, Channel.EMAIL)
        reason = shared if shared in ("do_not_contact", "unsubscribed") else "no_reachable_channel"
        raise SendBlocked(reason, f"lead {getattr(lead, 'pk', '?')} cannot be contacted: {reason}")
    return reachable


def build_sequence(tier: str, how: dict | None, reachable: Iterable[str] = CHANNELS) -> list[str]:
    """The channels of a lead's sequence, in order, under a (valid) HOW pattern.

    `best_first_channel` only replaces the first channel when it can reach the
    lead, so a preference the lead cannot receive does not cost a touch. The
    hot-lead voice rule looks at the plan after unreachable channels are
    dropped, so voice really is the third touch sent.
    """
    reachable = frozenset(reachable)
    if how and how["winning_sequences"]:
        channels = list(how["winning_sequences"][0]["sequence"][:MAX_PATTERN_TOUCHES])
    else:
        channels = list(DEFAULT_SEQUENCE)
    first = how.get("best_first_channel") if how else None
    if first and first in reachable:
        channels[0] = first
    channels = [channel for channel in channels if channel in reachable]
    if not channels:
        # The learned sequence uses only channels this lead lacks: the default covers every channel.
        channels = [channel for channel in DEFAULT_SEQUENCE if channel in reachable]
    if tier == Tier.HOT and how and Channel.VOICE in reachable and _hot_voice_rate(how) > HOT_VOICE_RATE:
        _move_voice_to_touch_3(channels)
    return channels


def _hot_voice_rate(how: dict) -> float:
    hot = how.get("channel_effectiveness_by_tier", {}).get(Tier.HOT, {})
    return hot.get(Channel.VOICE, {}).get("conversion_rate", 0)


def _move_voice_to_touch_3(channels: list[str]) -> None:
    """Voice at touch 3: moved there when it comes later, else it takes touch 3's place (as the spec)."""
    if len(channels) <= HOT_VOICE_INDEX + 1 or Channel.VOICE in channels[: HOT_VOICE_INDEX + 1]:
        return
    if Channel.VOICE in channels:
        channels.remove(Channel.VOICE)
        channels.insert(HOT_VOICE_INDEX, Channel.VOICE)
    else:
        channels[HOT_VOICE_INDEX] = Channel.VOICE


def validate_sequence_override(override: Any) -> list[str]:
    """The channels of a `sequence_override`, in touch order; ValueError when it is malformed.

    Accepts the spec's list of {"touch_number", "channel"} (ordered by
    touch_number when every entry has one) or a plain list of channel names.
    """
    if not isinstance(override, (list, tuple)) or not override:
        raise ValueError("sequence_override must be a non-empty list of touches")
    entries = list(override)
    if all(isinstance(entry, dict) for entry in entries):
        numbers = [entry.get("touch_number") for entry in entries]
        if all(number is not None for number in numbers):
            whole = all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in numbers)
            if not whole or len(set(numbers)) != len(numbers):
                raise ValueError(f"sequence_override touch numbers must be distinct whole numbers >= 1, got {numbers}")
            entries.sort(key=lambda entry: entry["touch_number"])
        elif any(number is not None for number in numbers):
            raise ValueError("sequence_override gives touch_number for some touches only")
        channels = [entry.get("channel") for entry in entries]
    elif all(isinstance(entry, str) for entry in entries):
        channels = entries
    else:
        raise ValueError("sequence_override entries must all be channel names or all {'touch_number', 'channel'}")
    unknown = [channel for channel in channels if channel not in CHANNELS]
    if unknown:
        raise ValueError(f"sequence_override has unknown channels {unknown}; expected {sorted(CHANNELS)}")
    return list(channels)


# ----------------------------------------------------------------------------
# Schedule (WHEN)
# ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    """Preferred local days and hours (best first) and gaps in days between touches."""

    best_days: frozenset[int]
    best_hours: tuple[int, ...]
    gaps: dict[str, float]

    def gap(self, touch_number: int) -> timedelta:
        """The minimum wait before `touch_number` (>= 2), after the previous touch."""
        return timedelta(days=self.gaps.get(f"touch_{touch_number - 1}_to_{touch_number}", FALLBACK_GAP_DAYS))

    @property
    def fallback_hours(self) -> tuple[int, ...]:
        """The preferred hours, then every other hour by closeness to the best one (for legal-hour windows)."""
        best = self.best_hours[0]
        others = sorted((h for h in range(24) if h not in self.best_hours), key=lambda h: (abs(h - best), h))
        return self.best_hours + tuple(others)


def _top(entries: list[dict], key: str) -> list[int]:
    """The `key` values of the TOP_PREFERENCES best entries by conversion rate, best first, each once."""
    ranked = sorted(entries, key=lambda entry: -entry["conversion_rate"])
    values: list[int] = []
    for entry in ranked:
        if entry[key] not in values:
            values.append(entry[key])
    return values[:TOP_PREFERENCES]


def timing_from(when: dict | None) -> Timing:
    """Timing from a valid WHEN pattern; each missing part falls back to its default."""
    if when is None:
        return Timing(frozenset(DEFAULT_BEST_DAYS), tuple(DEFAULT_BEST_HOURS), dict(DEFAULT_GAPS))
    return Timing(
        best_days=frozenset(_top(when["best_days"], "day_index") or DEFAULT_BEST_DAYS),
        best_hours=tuple(_top(when["best_hours"], "hour") or DEFAULT_BEST_HOURS),
        gaps={**DEFAULT_GAPS, **when["optimal_sequence_gaps"]},
    )


@dataclass(frozen=True)
class Slot:
    local: datetime  # aware, in the lead's zone
    utc: datetime


class _Place:
    """Where a lead is, as far as the calendar goes; remembers which days are public holidays there."""

    def __init__(self, zone_name: str, country: str | None, region: str | None):
        self.zone = zoneinfo.ZoneInfo(zone_name)
        self.country = country
        self.region = region
        self._holidays: dict[date, bool] = {}

    def is_holiday(self, day: date) -> bool:
        known = self._holidays.get(day)
        if known is None:
            known = self._holidays[day] = is_public_holiday(day, self.country, self.region)
        return known

    def slot(self, day: date, hour: int, channel: str) -> Slot | None:
        """`hour` o'clock local on `day`, or None when the wall clock skips it (DST) or the channel may not be used."""
        wall = datetime.combine(day, time(hour))
        utc = wall.replace(tzinfo=self.zone).astimezone(UTC)
        local = utc.astimezone(self.zone)
        if local.replace(tzinfo=None) != wall:
            return None
        if channel in TIMED_CHANNELS and not within_contact_hours(wall, self.country, self.region):
            return None
        return Slot(local, utc)


def _first_slot(place: _Place, channel: str, day: date, hours: Sequence[int]) -> Slot | None:
    """The first of `hours` (in preference order) at which `channel` may reach the lead on `day`."""
    for hour in hours:
        slot = place.slot(day, hour, channel)
        if slot is not None:
            return slot
    return None


def _find_slot(place: _Place, channel: str, earliest: datetime, now: datetime, timing: Timing) -> Slot:
    """The first preferred slot on or after `earliest` (local wall clock, naive) and after `now`.

    On each preferred day the best hour is taken, or the next preferred hour
    when the channel's legal window excludes it; when that slot is too early
    the next preferred day is tried. With no preferred slot within 14 days,
    the next business day (not a holiday) at an allowed hour is used.
    """

    def fits(slot: Slot | None) -> bool:
        return slot is not None and slot.local.replace(tzinfo=None) >= earliest and slot.utc > now

    day = earliest.date()
    for _ in range(PREFERRED_SEARCH_DAYS):
        if day.weekday() in timing.best_days and not place.is_holiday(day):
            slot = _first_slot(place, channel, day, timing.best_hours)
            if fits(slot):
                return slot
        day += ONE_DAY
    day = earliest.date()
    for _ in range(FALLBACK_SEARCH_DAYS):
        if day.weekday() < 5 and not place.is_holiday(day):
            slot = _first_slot(place, channel, day, timing.fallback_hours)
            if fits(slot):
                return slot
        day += ONE_DAY
    raise EngineError(f"no {channel} contact window for country {place.country} on any business day of a year")


def schedule(place: _Place, channels: Sequence[str], timing: Timing, now: datetime) -> tuple[Slot, ...]:
    slots: list[Slot] = []
    earliest = now.astimezone(place.zone).replace(tzinfo=None)
    for number, channel in enumerate(channels, start=1):
        if slots:
            earliest = slots[-1].local.replace(tzinfo=None) + timing.gap(number)
        slots.append(_find_slot(place, channel, earliest, now, timing))
    return tuple(slots)


# ----------------------------------------------------------------------------
# Planning and persistence
# ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Schedule:
    """Channels in touch order with their slots; shared by every lead with the same sequence and place."""

    channels: tuple[str, ...]
    slots: tuple[Slot, ...]

    def touches(self) -> Iterable[tuple[int, str, Slot]]:
        return zip(range(1, len(self.channels) + 1), self.channels, self.slots)

    @functools.cached_property
    def copy_fields(self) -> tuple[str, ...]:
        """touch_number, channel, scheduled_at and status of each touch, as COPY text columns."""
        return tuple(
            f"{n}\t{channel}\t{slot.utc.isoformat()}\t{TouchStatus.PLANNED}" for n, channel, slot in self.touches()
        )


@dataclass
class Plan:
    lead: Any
    tier: str
    schedule: Schedule
    patterns_used: dict[str, bool]
    sequence_id: uuid.UUID = field(default_factory=uuid.uuid4)

    def as_dict(self) -> dict:
        return {
            "lead_id": self.lead.pk,
            "sequence_id": str(self.sequence_id),
            "sequence": [{"touch_number": n, "channel": channel} for n, channel, _ in self.schedule.touches()],
            "scheduled_touches": [
                {
                    "touch_number": n,
                    "channel": channel,
                    "scheduled_at": slot.local.isoformat(),
                    "day_of_week": slot.local.strftime("%A"),
                    "hour": slot.local.hour,
                }
                for n, channel, slot in self.schedule.touches()
            ],
            "patterns_used": dict(self.patterns_used),
        }

    def touches(self) -> list[ScheduledTouch]:
        return [
            ScheduledTouch(
                client_id=self.lead.client_id,
                lead_id=self.lead.pk,
                sequence_id=self.sequence_id,
                touch_number=n,
                channel=channel,
                scheduled_at=slot.utc,
                status=TouchStatus.PLANNED,
                lead_tier=self.tier,
            )
            for n, channel, slot in self.schedule.touches()
        ]


class Planner:
    """Plans leads of one client at one `now` under that client's active WHEN and HOW patterns.

    Sequences and schedules depend only on (tier, reachable channels) and
    (zone, country, region, channels), so they are computed once per distinct
    key: planning thousands of leads costs a few dictionary lookups each.
    """

    def __init__(self, client: Client, *, now: datetime):
        self.client = client
        self.now = now
        when = load_active_patterns(client, PatternType.WHEN, now=now)
        self.how = load_active_patterns(client, PatternType.HOW, now=now)
        self.timing = timing_from(when)
        self.patterns_used = {"when": when is not None, "how": self.how is not None}
        self._sequences: dict[tuple[str, frozenset[str]], tuple[str, ...]] = {}
        self._places: dict[tuple[str, str | None, str | None], _Place] = {}
        self._schedules: dict[tuple, Schedule] = {}

    def plan(self, lead: Any, sequence_override: Any = None) -> Plan:
        """The lead's plan (not saved); SendBlocked when the lead is past outreach or no channel can reach it."""
        status = getattr(lead, "status", LeadStatus.NEW)
        if status not in ALLOCATABLE_STATUSES:
            # A lead that replied, converted or was closed is talking to a person now, not to a sequence.
            raise SendBlocked(f"lead_{status}", f"lead {getattr(lead, 'pk', '?')} is {status}: no new sequence")
        if sequence_override is not None:
            requested = validate_sequence_override(sequence_override)
        reachable = _reachable(lead)
        tier = lead_tier(lead)
        if sequence_override is not None:
            channels = tuple(channel for channel in requested if channel in reachable)
            if not channels:
                raise SendBlocked(
                    "no_reachable_channel",
                    f"lead {getattr(lead, 'pk', '?')} cannot be reached on any channel of the sequence override",
                )
            patterns_used = {**self.patterns_used, "how": False}
        else:
            key = (tier, reachable)
            channels = self._sequences.get(key)
            if channels is None:
                channels = self._sequences[key] = tuple(build_sequence(tier, self.how, reachable))
            patterns_used = self.patterns_used
        region = (getattr(lead, "region", "") or "").strip().upper() or None
        where = (lead_timezone_name(lead, self.client), lead_country(lead, self.client), region)
        found = self._schedules.get((where, channels))
        if found is None:
            place = self._places.get(where)
            if place is None:
                place = self._places[where] = _Place(*where)
            found = Schedule(channels, schedule(place, channels, self.timing, self.now))
            self._schedules[(where, channels)] = found
        return Plan(lead, tier, found, patterns_used)


def _clock(now: datetime | None) -> datetime:
    if now is None:
        return timezone.now()
    if timezone.is_naive(now):
        raise ValueError("now must be an aware datetime, such as django.utils.timezone.now()")
    return now


def _cancel_planned(lead_ids: list[int]) -> int:
    """Cancel the leads' planned, unsent touches; sent (or sending) touches are history and stay."""
    return ScheduledTouch.objects.filter(lead_id__in=lead_ids, status=TouchStatus.PLANNED).update(
        status=TouchStatus.CANCELLED, updated_at=timezone.now()
    )


def allocate_lead(
    lead: Lead, client: Client | None = None, *, sequence_override: Any = None, now: datetime | None = None
) -> dict:
    """Plan and save the lead's sequence; return the spec's allocation dict (plus the new sequence_id).

    Planned touches of an earlier allocation are cancelled in the same
    transaction. Raises SendBlocked (and saves nothing) when the lead cannot
    be contacted, ValueError for a malformed `sequence_override`.
    """
    now = _clock(now)
    client = client or lead.client
    plan = Planner(client, now=now).plan(lead, sequence_override)
    with transaction.atomic():
        # Serialises concurrent allocations of one lead so both cannot leave a planned sequence.
        list(Lead.objects.select_for_update().filter(pk=lead.pk).values_list("pk"))
        _cancel_planned([lead.pk])
        ScheduledTouch.objects.bulk_create(plan.touches())
    return plan.as_dict()


def leads_to_allocate(client: Client | int | None = None, *, replan: bool = False) -> QuerySet[Lead]:
    """Leads a bulk run should plan: new or in sequence, and (unless `replan`) without a planned or sending touch."""
    leads = Lead.objects.filter(status__in=ALLOCATABLE_STATUSES)
    if client is not None:
        leads = leads.filter(client=client)
    if not replan:
        running = ScheduledTouch.objects.filter(
            lead=OuterRef("pk"), status__in=(TouchStatus.PLANNED, TouchStatus.SENDING)
        )
        leads = leads.filter(~Exists(running))
    return leads


def allocate_leads(
    queryset: QuerySet[Lead],
    *,
    now: datetime | None = None,
    batch_size: int = BULK_BATCH_SIZE,
    progress: Callable[[int], Any] | None = None,
) -> dict[str, int]:
    """Plan and save sequences for many leads; returns counts: allocated, blocked, touches, cancelled.

    Patterns are loaded once per client. Each batch is one transaction: its
    leads are locked, their planned touches cancelled in one UPDATE and the
    new touches inserted at once. Leads that cannot be contacted are counted
    as blocked and left as they are, as `allocate_lead` does.
    `progress(n)` is called after each batch with the number of leads done.
    """
    now = _clock(now)
    # Sorted in Python so a sliced queryset works too; lock order by pk avoids deadlocks between runs.
    ids = sorted(set(queryset.values_list("pk", flat=True)))
    planners: dict[int, Planner] = {}
    counts = {"allocated": 0, "blocked": 0, "touches": 0, "cancelled": 0}
    for start in range(0, len(ids), batch_size):
        batch = ids[start : start + batch_size]
        with transaction.atomic():
            leads = Lead.objects.select_for_update().filter(pk__in=batch).order_by("pk")
            plans: list[Plan] = []
            for lead in leads:
                planner = planners.get(lead.client_id)
                if planner is None:
                    planner = planners[lead.client_id] = Planner(Client.objects.get(pk=lead.client_id), now=now)
                try:
                    plans.append(planner.plan(lead))
                except SendBlocked:
                    counts["blocked"] += 1
            if plans:
                counts["cancelled"] += _cancel_planned([plan.lead.pk for plan in plans])
                counts["touches"] += _insert_touches(plans)
                counts["allocated"] += len(plans)
        if progress is not None:
            progress(len(batch))
    return counts


def _insert_touches(plans: list[Plan]) -> int:
    if connection.vendor == "postgresql":
        return _copy_touches(plans)
    touches = [touch for plan in plans for touch in plan.touches()]
    ScheduledTouch.objects.bulk_create(touches, batch_size=5000)
    return len(touches)


_COPY_COLUMNS = (
    "client",
    "lead",
    "sequence_id",
    "touch_number",
    "channel",
    "scheduled_at",
    "status",
    "lead_tier",
    "attempts",
    "last_error",
    "created_at",
    "updated_at",
)


def _copy_touches(plans: list[Plan]) -> int:
    """Insert the plans' touches with one COPY: several times faster than bulk_create's INSERT.

    Every value is a number, a UUID, a choice code or an ISO timestamp, none
    of which contains a tab, newline or backslash, so no COPY escaping is needed.
    """
    meta = ScheduledTouch._meta
    quote = connection.ops.quote_name
    columns = ", ".join(quote(meta.get_field(name).column) for name in _COPY_COLUMNS)
    stamp = timezone.now().isoformat()
    lines = []
    for plan in plans:
        head = f"{plan.lead.client_id}\t{plan.lead.pk}\t{plan.sequence_id}\t"
        tail = f"\t{plan.tier}\t0\t\t{stamp}\t{stamp}\n"
        lines.extend(head + touch + tail for touch in plan.schedule.copy_fields)
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY {quote(meta.db_table)} ({columns}) FROM STDIN") as copy:
            copy.write("".join(lines))
    return len(lines)
