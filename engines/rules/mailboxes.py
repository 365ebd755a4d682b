"""Sending mailboxes: how many emails one may send on a day, which one a new enrollment sends from, and whether
its recent bounces and complaints say it must stop.

No database: engines.services.deliverability.mailboxes reads the mailboxes and their activities and applies
these.

- Warm-up: a new address that sends its full volume on day one looks like a spammer's to mailbox providers. A
  warming mailbox sends `warmup_start` emails on its first day and `warmup_increase` more each day after, up to
  its `daily_cap`; an active one sends its cap; a paused or retired one nothing.
- Rotation: a new enrollment goes to a mailbox drawn with a chance proportional to the sends it has left today,
  so the mailboxes fill evenly and a nearly full one is rarely picked; one with none left never is.
- Health: the hard-bounce and complaint rates of the sends in a rolling window: the last 500 sends or the last
  7 days, whichever is shorter (a busy mailbox is judged on its recent mail, a quiet one on a week of it).
"""

from __future__ import annotations

import random
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from engines.rules.proportions import Z_95_ONE_SIDED, wilson_interval
from outreach.models.choices import MailboxState


@dataclass(frozen=True)
class Plan:
    """A mailbox's sending plan: its state, its daily cap (the ceiling) and its warm-up ramp."""

    state: str
    daily_cap: int
    warmup_start: int
    warmup_increase: int
    warmup_started_on: date


def ramp(plan: Plan, day: date) -> int:
    """What the warm-up allows on `day`, up to the cap (nothing before the warm-up's first day)."""
    days = (day - plan.warmup_started_on).days
    if days < 0:
        return 0
    return min(plan.daily_cap, plan.warmup_start + plan.warmup_increase * days)


def cap_on(plan: Plan, day: date) -> int:
    """The most emails the mailbox may send on `day` (the client's calendar day)."""
    if plan.state == MailboxState.WARMING:
        return ramp(plan, day)
    if plan.state == MailboxState.ACTIVE:
        return plan.daily_cap
    return 0


def warmed_up(plan: Plan, day: date) -> bool:
    """A warming mailbox whose ramp reached its cap on `day`: it may become active."""
    return plan.state == MailboxState.WARMING and ramp(plan, day) >= plan.daily_cap


def choose(capacities: Sequence[int], rng: random.Random) -> int | None:
    """The index of the mailbox a new enrollment goes to, drawn with a chance proportional to each one's sends
    left today; None when none has any left."""
    weights = [max(capacity, 0) for capacity in capacities]
    total = sum(weights)
    if not total:
        return None
    draw = rng.randrange(total)
    for index, weight in enumerate(weights):
        if draw < weight:
            return index
        draw -= weight
    raise AssertionError("unreachable: the draw is below the total")


@dataclass(frozen=True)
class Thresholds:
    """When a mailbox (or a sending domain) is paused.

    Above 3% hard bounces the list, not the mailbox, is bad, but providers throttle the mailbox all the same;
    above 0.1% complaints is Gmail's and Yahoo's line for bulk senders (0.3% must never be reached). A rate is
    judged only once enough sends make it mean something: 100 for bounces; 300 for complaints, the fewest sends
    at which a single complaint already crosses Gmail's 0.3% line (fewer would pause a new mailbox for one
    person's click). Bounces must be credibly above their limit, the lower end of the rate's one-sided 95%
    interval over it: a list that bounces 2% shows 3.5% over a hundred sends often enough that a nightly check
    on the observed rate pauses every mailbox within weeks (the demo's did), while 6 of 100 or 25 of 500 pause
    at once. Complaints are judged on the observed rate, the one mailbox providers judge a sender by.
    """

    max_bounce_rate: float = 0.03
    max_complaint_rate: float = 0.001
    min_sends_for_bounces: int = 100
    min_sends_for_complaints: int = 300
    window_sends: int = 500
    window_days: int = 7


DEFAULT_THRESHOLDS = Thresholds()


@dataclass(frozen=True)
class Verdict:
    """Whether a window of sends is healthy; `reason` ("bounce_rate", "complaint_rate") says why not. A rate is
    None when there were no sends."""

    healthy: bool
    reason: str
    sends: int
    bounce_rate: float | None
    complaint_rate: float | None


def health(sends: int, hard_bounces: int, complaints: int, thresholds: Thresholds = DEFAULT_THRESHOLDS) -> Verdict:
    """The verdict on `sends` emails of which `hard_bounces` bounced hard and `complaints` were marked as spam.
    Complaints are judged first: they hurt a sender's reputation more than bounces."""
    bounce_rate = hard_bounces / sends if sends else None
    complaint_rate = complaints / sends if sends else None
    reason = ""
    if sends >= thresholds.min_sends_for_complaints and complaints / sends > thresholds.max_complaint_rate:
        reason = "complaint_rate"
    elif (
        sends >= thresholds.min_sends_for_bounces
        and wilson_interval(hard_bounces, sends, Z_95_ONE_SIDED)[0] > thresholds.max_bounce_rate
    ):
        reason = "bounce_rate"
    return Verdict(not reason, reason, sends, bounce_rate, complaint_rate)


def window_start(
    now: datetime, nth_newest_send: datetime | None, thresholds: Thresholds = DEFAULT_THRESHOLDS
) -> datetime:
    """Where the health window starts: 7 days back, or later at the `window_sends`-th newest send (None: fewer
    sends than that)."""
    week = now - timedelta(days=thresholds.window_days)
    return week if nth_newest_send is None else max(week, nth_newest_send)


def local_day(zone: str, now: datetime) -> tuple[date, datetime]:
    """`now`'s date on the clock of time zone `zone`, and that day's midnight (UTC)."""
    tz = zoneinfo.ZoneInfo(zone)
    day = now.astimezone(tz).date()
    return day, datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)
