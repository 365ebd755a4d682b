"""When a due touch may go: the legal contact hours of its lead (SMS and calls), its client's sending window
(email and LinkedIn), its client's daily limit per channel and, for email, its client's daily cap per recipient
company (`Client.daily_emails_per_company`) and the daily cap of the mailbox it goes from (Mailbox, for a client
with mailboxes). The dispatcher asks these just before it claims a touch."""

from __future__ import annotations

import random
import zoneinfo
from collections import Counter
from collections.abc import Collection, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from django.db.models import Count, QuerySet

from engines.exceptions import EngineError
from engines.rules.compliance import (
    FALLBACK_COUNTRY,
    TIMED_CHANNELS,
    contact_hours,
    is_public_holiday,
    lead_country,
    within_contact_hours,
)
from engines.rules.email_domains import email_company
from engines.rules.geography import lead_timezone_name
from engines.rules.sending_window import governs, sending_window
from engines.services.deliverability.mailboxes import (
    Capacity,
    NoMailboxLeft,
    capacity_today,
    client_day,
    mailbox_for,
    save_choices,
    since_day_start,
)
from outreach.models import (
    Activity,
    ActivityAction,
    Channel,
    Client,
    Enrollment,
    MailboxState,
    ScheduledTouch,
    TouchStatus,
)
from outreach.models.choices import SENT_ACTIONS

_Row = TypeVar("_Row", Activity, ScheduledTouch)

# Why a touch over today's budget waits for the next day (its `reason`).
DAILY_LIMIT = "daily_limit"
COMPANY_DAILY_CAP = "company_daily_cap"
MAILBOX_DAILY_CAP = "mailbox_daily_cap"
# The enrollment already sent from its mailbox, which is paused: its emails wait for a person to resume it.
MAILBOX_PAUSED = "mailbox_paused"

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


def next_day_slot(touch: ScheduledTouch, now: datetime) -> datetime:
    """Where a touch over today's limit goes: its own local time of day, on the client's next day or later."""
    tomorrow = client_day(touch.client, now + timedelta(days=1))[1]  # the client's next midnight
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
    clients = list(clients)
    if not clients:
        return counts
    recorded = Activity.objects.filter(since_day_start(clients, now, "created_at"), action__in=SENT_ACTIONS)
    in_flight = ScheduledTouch.objects.filter(
        since_day_start(clients, now, "claimed_at"), status__in=(TouchStatus.SENDING, TouchStatus.WAITING)
    )
    for rows in (recorded, in_flight):
        for row in rows.values("client_id", "channel").annotate(sends=Count("pk")).order_by():
            counts[(row["client_id"], row["channel"])] += row["sends"]
    return counts


def _company_counts(rows: QuerySet[_Row], companies: Collection[str]) -> Iterator[tuple[int, str, int]]:
    """(client id, company, how many) of the rows (activities or touches) to leads at the given recipient
    companies (Lead.email_company, which the database keeps: its index finds the leads)."""
    grouped = rows.filter(lead__email_company__in=sorted(companies)).values("client_id", "lead__email_company")
    for row in grouped.annotate(sends=Count("pk")).order_by():
        yield row["client_id"], row["lead__email_company"], row["sends"]


def company_emails_today(touches: Iterable[ScheduledTouch], now: datetime) -> Counter[tuple[int, str]]:
    """Emails each of the touches' clients sent today into each of the touches' recipient companies (recorded,
    or claimed and still being sent): two grouped queries for the batch."""
    counts: Counter[tuple[int, str]] = Counter()
    touches = list(touches)
    companies = {email_company(touch.lead.email) for touch in touches} - {""}
    if not companies:
        return counts
    clients = [touch.client for touch in touches]
    recorded = Activity.objects.filter(since_day_start(clients, now, "created_at"), action=ActivityAction.EMAIL_SENT)
    in_flight = ScheduledTouch.objects.filter(
        since_day_start(clients, now, "claimed_at"),
        channel=Channel.EMAIL,
        status__in=(TouchStatus.SENDING, TouchStatus.WAITING),
    )
    for client_id, company, sends in (*_company_counts(recorded, companies), *_company_counts(in_flight, companies)):
        counts[(client_id, company)] += sends
    return counts


def _company_key(touch: ScheduledTouch) -> tuple[int, str] | None:
    """The (client, recipient company) budget an email touch spends, None when no cap applies to it."""
    if touch.channel != Channel.EMAIL or not touch.client.daily_emails_per_company:
        return None
    company = email_company(touch.lead.email)
    return (touch.client_id, company) if company else None


class DailyBudget:
    """Sends left today for a batch of due touches, per (client, channel), for email per (client, recipient
    company) and per mailbox: counted once, spent as touches are claimed.

    An email touch of a client with mailboxes goes from its enrollment's mailbox, chosen when the touch is first
    taken (deliverability.mailboxes.mailbox_for; `rng` draws it) and saved on the enrollments by save_choices,
    once the batch is decided (a preview saves nothing). On PostgreSQL the dispatcher builds this and saves
    the choices under its lock of the touches' clients, so a choice and the count it was made on hold across
    dispatchers.
    """

    def __init__(self, now: datetime, touches: Iterable[ScheduledTouch], rng: random.Random | None = None):
        touches = list(touches)
        sent = sends_today((touch.client for touch in touches), now)
        self._left = {
            (touch.client_id, touch.channel): getattr(touch.client, f"daily_{touch.channel}_limit")
            - sent[(touch.client_id, touch.channel)]
            for touch in touches
        }
        capped = {key: touch for touch in touches if (key := _company_key(touch)) is not None}
        into = company_emails_today(capped.values(), now)
        self._company_left = {key: touch.client.daily_emails_per_company - into[key] for key, touch in capped.items()}
        emails = {touch.client_id: touch.client for touch in touches if touch.channel == Channel.EMAIL}
        self._mailboxes = capacity_today(emails.values(), now) if emails else Capacity({}, [])
        self._rng = rng
        self._chosen: list[Enrollment] = []

    def take(self, touch: ScheduledTouch) -> str:
        """Spend one of today's sends on the touch: "" when it may go, else why it waits for the next day
        (DAILY_LIMIT, COMPANY_DAILY_CAP when the client's emails into the lead's company are used up,
        MAILBOX_DAILY_CAP when its mailbox's, or every mailbox's for a new enrollment, are, MAILBOX_PAUSED when
        its enrollment's mailbox is paused)."""
        key, company = (touch.client_id, touch.channel), _company_key(touch)
        if self._left.get(key, 0) <= 0:
            return DAILY_LIMIT
        if company is not None and self._company_left.get(company, 0) <= 0:
            return COMPANY_DAILY_CAP
        mailbox_id, held = self._mailbox(touch)
        if held:
            return held
        self._left[key] -= 1
        if company is not None:
            self._company_left[company] -= 1
        if mailbox_id is not None:
            self._mailboxes.take(mailbox_id)
        return ""

    def _mailbox(self, touch: ScheduledTouch) -> tuple[int | None, str]:
        """The mailbox an email touch goes from (None: its client has none) and why it must wait, if it must."""
        if touch.channel != Channel.EMAIL:
            return None, ""
        had_one = touch.enrollment.mailbox_id is not None
        try:
            # Without a generator, each enrollment draws from one seeded with its id: a run repeats its choices
            # (the demo's same seed, the same run), and enrollments still draw independently.
            rng = self._rng or random.Random(touch.enrollment_id)
            mailbox = mailbox_for(touch.enrollment, self._mailboxes, rng)
        except NoMailboxLeft:
            return None, MAILBOX_DAILY_CAP
        if mailbox is not None and not had_one:
            self._chosen.append(touch.enrollment)
        if mailbox is None:
            return None, ""
        if mailbox.state == MailboxState.PAUSED:
            return None, MAILBOX_PAUSED
        if self._mailboxes.get(mailbox.pk, 0) <= 0:
            return None, MAILBOX_DAILY_CAP
        return mailbox.pk, ""

    def save_choices(self) -> None:
        """Save on their enrollments the mailboxes chosen for the touches taken (one statement)."""
        save_choices(self._chosen, self._mailboxes)
        self._chosen = []
