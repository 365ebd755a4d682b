"""When a due touch may go: the legal contact hours of its lead (SMS and calls), its client's sending window
(email and LinkedIn) and its client's daily limit per channel. The dispatcher asks these just before it claims
a touch."""

from __future__ import annotations

import zoneinfo
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime, time, timedelta

from django.db.models import Count, Q

from engines.exceptions import EngineError
from engines.rules.compliance import (
    FALLBACK_COUNTRY,
    TIMED_CHANNELS,
    contact_hours,
    is_public_holiday,
    lead_country,
    within_contact_hours,
)
from engines.rules.geography import lead_timezone_name
from engines.rules.sending_window import governs, sending_window
from outreach.models import Activity, Client, ScheduledTouch, TouchStatus
from outreach.models.choices import SENT_ACTIONS

# How far ahead the next legal contact slot is looked for (a country whose rules allow no hour at all).
SLOT_SEARCH_DAYS = 366


def next_contact_slot(touch: ScheduledTouch, after: datetime) -> datetime:
    """The first instant at or after `after` at which the touch's channel may reach its lead (UTC).

    Email and LinkedIn wait for the client's sending window on the lead's wall
    clock; SMS and calls wait for the legal contact hours of the lead's
    country (public holidays excluded where the rules say so).
    """
    lead, client = touch.lead, touch.client
    if governs(touch.channel):
        zone = zoneinfo.ZoneInfo(lead_timezone_name(lead, client))
        return sending_window(client).next_opening(after.astimezone(zone)).astimezone(UTC)
    if touch.channel not in TIMED_CHANNELS:
        return after
    zone = zoneinfo.ZoneInfo(lead_timezone_name(lead, client))
    country = lead_country(lead, client)
    region = (lead.region or "").strip().upper() or None
    local = after.astimezone(zone)
    if within_contact_hours(local, country, region):
        return after
    rules = contact_hours(country)
    for offset in range(SLOT_SEARCH_DAYS):
        day = local.date() + timedelta(days=offset)
        window = rules.window(day.weekday())
        if window is None or (
            rules.skip_public_holidays and is_public_holiday(day, country or FALLBACK_COUNTRY, region)
        ):
            continue
        start = datetime.combine(day, window[0], tzinfo=zone)
        candidate = max(start, local) if offset == 0 else start
        if within_contact_hours(candidate, country, region):
            return candidate.astimezone(UTC)
    raise EngineError(f"no legal {touch.channel} contact hour for country {country} within a year")


def client_day_start(client: Client, now: datetime) -> datetime:
    """Midnight of `now`'s day on the client's clock: daily limits count from there."""
    zone = zoneinfo.ZoneInfo(client.timezone)
    return datetime.combine(now.astimezone(zone).date(), time(0), tzinfo=zone).astimezone(UTC)


def next_day_slot(touch: ScheduledTouch, now: datetime) -> datetime:
    """Where a touch over today's limit goes: its own local time of day, on the client's next day or later."""
    tomorrow = client_day_start(touch.client, now + timedelta(days=1))
    zone = zoneinfo.ZoneInfo(lead_timezone_name(touch.lead, touch.client))
    wall = touch.scheduled_at.astimezone(zone).time()
    day = tomorrow.astimezone(zone).date()
    candidate = datetime.combine(day, wall, tzinfo=zone)
    while candidate < tomorrow:
        day += timedelta(days=1)
        candidate = datetime.combine(day, wall, tzinfo=zone)
    return next_contact_slot(touch, candidate.astimezone(UTC))


def sends_today(clients: Iterable[Client], now: datetime) -> Counter[tuple[int, str]]:
    """Each client's sends per channel since its midnight, counting touches claimed or handed to a person
    (two grouped queries for all the clients)."""
    counts: Counter[tuple[int, str]] = Counter()
    distinct = {client.pk: client for client in clients}
    if not distinct:
        return counts
    since_activity, since_claim = Q(pk__in=[]), Q(pk__in=[])
    for client in distinct.values():
        start = client_day_start(client, now)
        since_activity |= Q(client_id=client.pk, created_at__gte=start)
        since_claim |= Q(client_id=client.pk, claimed_at__gte=start)
    recorded = Activity.objects.filter(since_activity, action__in=SENT_ACTIONS)
    in_flight = ScheduledTouch.objects.filter(since_claim, status__in=(TouchStatus.SENDING, TouchStatus.WAITING))
    for rows in (recorded, in_flight):
        for row in rows.values("client_id", "channel").annotate(sends=Count("pk")).order_by():
            counts[(row["client_id"], row["channel"])] += row["sends"]
    return counts


class DailyBudget:
    """Sends left today per (client, channel) for a batch of due touches: counted once, spent as touches are
    claimed."""

    def __init__(self, now: datetime, touches: Iterable[ScheduledTouch]):
        touches = list(touches)
        sent = sends_today((touch.client for touch in touches), now)
        self._left = {
            (touch.client_id, touch.channel): getattr(touch.client, f"daily_{touch.channel}_limit")
            - sent[(touch.client_id, touch.channel)]
            for touch in touches
        }

    def take(self, client: Client, channel: str) -> bool:
        key = (client.pk, channel)
        if self._left.get(key, 0) <= 0:
            return False
        self._left[key] -= 1
        return True
