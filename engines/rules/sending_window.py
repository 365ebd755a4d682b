"""The sending window: the lead-local hours and days a client's email and LinkedIn touches may go out.

No learned pattern moves a touch outside it. Planning offers only slots inside
the window (a WHEN pattern's hour outside it is ignored, and logged once per
planner), and the dispatcher holds an email that falls due outside it (a late
claim, a retry, a re-plan) until the window next opens. SMS and calls keep the
legal contact hours of the lead's country instead (engines.rules.compliance).

The window is the client's `sending_window_start` to `sending_window_end`
(end exclusive, 07:00-19:00 by default) on the lead's working days, Monday to
Friday (every day with `sends_on_weekends`); public holidays are left out when
touches are planned.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING

from outreach.models.choices import Channel

if TYPE_CHECKING:
    from outreach.models import Client

# Channels the window governs; SMS and calls are bound by the legal contact hours instead.
WINDOW_CHANNELS = frozenset({Channel.EMAIL, Channel.LINKEDIN})
WORKING_DAYS = frozenset(range(5))  # Monday to Friday (Monday=0)
EVERY_DAY = frozenset(range(7))
DEFAULT_START, DEFAULT_END = 7, 19


@dataclass(frozen=True)
class SendingWindow:
    """Local start hours start <= h < end, on `days` (Monday=0)."""

    start: int = DEFAULT_START
    end: int = DEFAULT_END
    days: frozenset[int] = WORKING_DAYS

    def allows_hour(self, hour: int) -> bool:
        return self.start <= hour < self.end

    def allows_day(self, day: date) -> bool:
        return day.weekday() in self.days

    def allows(self, local: datetime) -> bool:
        """Whether a touch may go at this lead-local wall-clock time."""
        return self.allows_day(local.date()) and self.allows_hour(local.hour)

    def next_opening(self, local: datetime) -> datetime:
        """`local` itself when the window allows it, else the next instant it opens (same time zone)."""
        if self.allows(local):
            return local
        day = local.date()
        while True:
            opens = datetime.combine(day, time(self.start), tzinfo=local.tzinfo)
            if self.allows_day(day) and opens >= local:
                return opens
            day += timedelta(days=1)

    def describe(self) -> str:
        days = "every day" if self.days == EVERY_DAY else "Monday to Friday"
        return f"{self.start:02d}:00-{self.end:02d}:00, {days}"


def sending_window(client: Client) -> SendingWindow:
    """The client's window (its start and end hours are checked by the database: 0 <= start < end <= 24)."""
    days = EVERY_DAY if client.sends_on_weekends else WORKING_DAYS
    return SendingWindow(client.sending_window_start, client.sending_window_end, days)


def governs(channel: str) -> bool:
    return channel in WINDOW_CHANNELS
