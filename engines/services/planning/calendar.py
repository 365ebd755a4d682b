"""When each touch goes (WHEN): the lead's local days and hours, public holidays, legal hours and DST.

Every touch lands on a preferred day at a preferred hour of the lead's
*local* wall clock, skipping public holidays of the lead's country, keeping
SMS and calls inside legal contact hours and email and LinkedIn inside the
client's sending window (engines.rules.sending_window: a preferred hour
outside it is passed over for the next one), no earlier than the previous
touch plus its gap and always after `now`.

Gaps are measured on the lead's wall clock, so "2 days" after Saturday 10:00
is Monday 10:00 even when a daylight-saving change shortens the weekend to 47
hours. Fractional gaps (the WHEN schema allows them) are minimum waits: 1.5
days after Tuesday 10:00 is Wednesday 22:00, so the touch goes at the next
preferred slot after that.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from engines.exceptions import NoContactWindow
from engines.json_types import JSONObject
from engines.rules.compliance import TIMED_CHANNELS, is_public_holiday, within_contact_hours
from engines.rules.sending_window import WINDOW_CHANNELS, SendingWindow
from engines.services.planning.preferences import no_preference

DEFAULT_GAPS = {
    "touch_1_to_2": 2,
    "touch_2_to_3": 3,
    "touch_3_to_4": 4,
    "touch_4_to_5": 5,
    "touch_5_to_6": 7,
}

DEFAULT_BEST_DAYS = [1, 2, 3]  # Tuesday, Wednesday, Thursday (0=Monday)
DEFAULT_BEST_HOURS = [10, 14, 9]  # 10am, 2pm, 9am, best first

# The spec's gap for a touch neither the pattern nor DEFAULT_GAPS covers (an override longer than six).
FALLBACK_GAP_DAYS = 3
TOP_PREFERENCES = 3
PREFERRED_SEARCH_DAYS = 14
# The business-day fallback gives up after a year: only a contact-hours setting with no window can get there.
FALLBACK_SEARCH_DAYS = 366

ONE_DAY = timedelta(days=1)


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


def _top(entries: list[JSONObject], key: str) -> list[int]:
    """The `key` values of the first TOP_PREFERENCES entries, each once: the pattern lists them best first
    (the WHEN detector by the channel-adjusted effect; a raw rate would carry the channel mix)."""
    values: list[int] = []
    for entry in entries:
        if entry[key] not in values:
            values.append(entry[key])
    return values[:TOP_PREFERENCES]


def _named(when: JSONObject, part: str, key: str) -> list[int]:
    """What the pattern names for `part`, best first; nothing when it says it has no preference there."""
    if no_preference(when, part):
        return []
    return _top(when.get(part) or [], key)


def timing_from(when: JSONObject | None) -> Timing:
    """Timing from a valid WHEN pattern; a part it names nothing for (or has no preference on) keeps its default."""
    if when is None:
        return Timing(frozenset(DEFAULT_BEST_DAYS), tuple(DEFAULT_BEST_HOURS), dict(DEFAULT_GAPS))
    return Timing(
        best_days=frozenset(_named(when, "best_days", "day_index") or DEFAULT_BEST_DAYS),
        best_hours=tuple(_named(when, "best_hours", "hour") or DEFAULT_BEST_HOURS),
        gaps={**DEFAULT_GAPS, **(when.get("optimal_sequence_gaps") or {})},
    )


@dataclass(frozen=True)
class Slot:
    local: datetime  # aware, in the lead's zone
    utc: datetime


class Place:
    """Where a lead is, as far as the calendar goes.

    Remembers which days are public holidays there and which hours exist and
    are legal, since every lead at the same place asks the same questions.
    """

    def __init__(self, zone_name: str, country: str | None, region: str | None, window: SendingWindow | None = None):
        self.zone = zoneinfo.ZoneInfo(zone_name)
        self.country = country
        self.region = region
        self.window = window or SendingWindow()
        self._holidays: dict[date, bool] = {}
        self._slots: dict[tuple[date, int, str], Slot | None] = {}

    def is_holiday(self, day: date) -> bool:
        known = self._holidays.get(day)
        if known is None:
            known = self._holidays[day] = is_public_holiday(day, self.country, self.region)
        return known

    def slot(self, day: date, hour: int, channel: str) -> Slot | None:
        """`hour` o'clock local on `day`, or None when the wall clock skips it (DST) or the channel may not be used
        then (legal contact hours for SMS and calls, the sending window for email and LinkedIn)."""
        rule = "legal" if channel in TIMED_CHANNELS else "window" if channel in WINDOW_CHANNELS else ""
        key = (day, hour, rule)
        if key not in self._slots:
            self._slots[key] = self._slot(day, hour, rule)
        return self._slots[key]

    def _slot(self, day: date, hour: int, rule: str) -> Slot | None:
        wall = datetime.combine(day, time(hour))
        utc = wall.replace(tzinfo=self.zone).astimezone(UTC)
        local = utc.astimezone(self.zone)
        if local.replace(tzinfo=None) != wall:
            return None
        if rule == "legal" and not within_contact_hours(wall, self.country, self.region):
            return None
        if rule == "window" and not self.window.allows(wall):
            return None
        return Slot(local, utc)


def _first_slot(place: Place, channel: str, day: date, hours: Sequence[int]) -> Slot | None:
    """The first of `hours` (in preference order) at which `channel` may reach the lead on `day`."""
    for hour in hours:
        slot = place.slot(day, hour, channel)
        if slot is not None:
            return slot
    return None


def find_slot(place: Place, channel: str, earliest: datetime, now: datetime, timing: Timing) -> Slot:
    """The first preferred slot on or after `earliest` (local wall clock, naive) and after `now`.

    On each preferred day the best hour is taken, or the next preferred hour
    when the channel's legal window excludes it; when that slot is too early
    the next preferred day is tried. With no preferred slot within 14 days,
    the next business day (not a holiday) at an allowed hour is used.
    """

    def fits(slot: Slot) -> bool:
        return slot.local.replace(tzinfo=None) >= earliest and slot.utc > now

    day = earliest.date()
    for _ in range(PREFERRED_SEARCH_DAYS):
        if day.weekday() in timing.best_days and not place.is_holiday(day):
            slot = _first_slot(place, channel, day, timing.best_hours)
            if slot is not None and fits(slot):
                return slot
        day += ONE_DAY
    day = earliest.date()
    for _ in range(FALLBACK_SEARCH_DAYS):
        if day.weekday() < 5 and not place.is_holiday(day):
            slot = _first_slot(place, channel, day, timing.fallback_hours)
            if slot is not None and fits(slot):
                return slot
        day += ONE_DAY
    raise NoContactWindow(f"no {channel} contact window for country {place.country} on any business day of a year")


def touch_slots(
    place: Place,
    channels: Sequence[str],
    timing: Timing,
    now: datetime,
    *,
    first_number: int = 1,
    after: datetime | None = None,
) -> tuple[Slot, ...]:
    """One slot per channel, in touch order: each the first that fits after the previous touch plus its gap.

    A sequence that continues one already running starts at touch
    `first_number`, no earlier than `after` (when the touch before it went)
    plus that touch's gap.
    """
    slots: list[Slot] = []
    earliest = now.astimezone(place.zone).replace(tzinfo=None)
    if after is not None:
        earliest = max(earliest, after.astimezone(place.zone).replace(tzinfo=None) + timing.gap(first_number))
    for number, channel in enumerate(channels, start=first_number):
        if slots:
            earliest = slots[-1].local.replace(tzinfo=None) + timing.gap(number)
        slots.append(find_slot(place, channel, earliest, now, timing))
    return tuple(slots)
