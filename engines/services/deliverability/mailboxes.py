"""Sending mailboxes: how many emails each may still send today, which one an enrollment sends from, their
health, and a person's pause, resume and retire.

A client with mailboxes sends every email from one of them; a client without any sends from its
`sending_email`, as before mailboxes existed. The rules (warm-up ramp, weighted choice, health verdict) are
engines.rules.mailboxes; this module reads the mailboxes and their activities and writes what follows.

- `capacity_today`: each mailbox's cap for the client's day less the emails it sent today (recorded, or claimed
  and still being sent): three queries for a batch of clients.
- `mailbox_for`: an enrollment keeps the mailbox of its first email (sticky, so the lead's thread stays with one
  sender); a new one is given a mailbox drawn by the sends each has left, saved on the enrollment.
- `check_health` / `check_all_health`: the rolling hard-bounce and complaint rates of each mailbox and of each
  sending domain (all mailboxes on it). A rate over its limit pauses the mailbox (all the domain's, for a
  domain), records why, and moves the enrollments that have not sent an email from it yet to the client's other
  mailboxes; the enrollments that did stay and wait for it to be resumed.
- `pause`, `resume`, `retire`: a person's actions, recorded in the mailbox's history (MailboxStateChange).
"""

from __future__ import annotations

import os
import random
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.db.models import Count, Exists, Max, OuterRef, Q
from django.utils import timezone

from engines.db.bulk import update_from_values
from engines.exceptions import EngineError
from engines.rules.mailboxes import (
    DEFAULT_THRESHOLDS,
    Plan,
    Thresholds,
    Verdict,
    cap_on,
    choose,
    health,
    local_day,
    warmed_up,
    window_start,
)
from outreach.models import (
    Activity,
    ActivityAction,
    Channel,
    Client,
    Enrollment,
    Mailbox,
    MailboxState,
    MailboxStateChange,
    MailboxStateReason,
    ScheduledTouch,
    TouchStatus,
)
from outreach.models.choices import OPEN_ENROLLMENT_STATES, SENDING_MAILBOX_STATES

# What a health verdict's reason pauses a mailbox with: its own rates, or its domain's.
MAILBOX_REASONS = {"bounce_rate": MailboxStateReason.BOUNCE_RATE, "complaint_rate": MailboxStateReason.COMPLAINT_RATE}
DOMAIN_REASONS = {
    "bounce_rate": MailboxStateReason.DOMAIN_BOUNCE_RATE,
    "complaint_rate": MailboxStateReason.DOMAIN_COMPLAINT_RATE,
}


class MailboxError(EngineError):
    """A mailbox action or look-up was refused; `reason` is machine-readable, the message says what to do."""

    def __init__(self, reason: str, message: str):
        self.reason = reason
        super().__init__(message)


class NoMailboxLeft(MailboxError):
    """Every mailbox of the client is used up today, paused or retired: the email waits for the next day."""

    def __init__(self, client_id: int):
        super().__init__(
            "mailbox_daily_cap",
            f"client {client_id} has no mailbox with a send left today: the email waits for tomorrow "
            "(resume a paused mailbox, raise a cap or add a mailbox to send more)",
        )


def plan_of(mailbox: Mailbox) -> Plan:
    return Plan(
        mailbox.state, mailbox.daily_cap, mailbox.warmup_start, mailbox.warmup_increase, mailbox.warmup_started_on
    )


def client_day(client: Client, now: datetime) -> tuple[date, datetime]:
    """The client's calendar day at `now`, and its midnight (UTC): caps are per client day, like daily limits."""
    return local_day(client.timezone, now)


def since_day_start(clients: Iterable[Client], now: datetime, field: str) -> Q:
    """Rows of the clients with `field` at or after each one's midnight (never a row when there is no client):
    what every daily cap counts (here and sending.windows). One condition per distinct midnight, not per
    client: clients on one clock share it, and a batch's query is built and planned for a few conditions."""
    by_midnight: defaultdict[datetime, set[int]] = defaultdict(set)
    for client in clients:
        by_midnight[client_day(client, now)[1]].add(client.pk)
    since = Q(pk__in=[])
    for midnight, ids in by_midnight.items():
        since |= Q(client_id__in=sorted(ids), **{f"{field}__gte": midnight})
    return since


def cap_today(mailbox: Mailbox, now: datetime) -> int:
    return cap_on(plan_of(mailbox), client_day(mailbox.client, now)[0])


class Capacity(dict[int, int]):
    """The sends each mailbox has left today, by mailbox id (0 for a paused or retired one); `mailboxes` holds
    the mailboxes themselves by id, so a batch chooses among a client's without another query."""

    def __init__(self, left: Mapping[int, int], mailboxes: Iterable[Mailbox]):
        super().__init__(left)
        self.mailboxes = {mailbox.pk: mailbox for mailbox in mailboxes}
        self._of_client: defaultdict[int, list[Mailbox]] = defaultdict(list)
        for mailbox in self.mailboxes.values():
            self._of_client[mailbox.client_id].append(mailbox)

    def of_client(self, client_id: int) -> list[Mailbox]:
        return self._of_client.get(client_id, [])

    def take(self, mailbox_id: int) -> None:
        self[mailbox_id] -= 1


def sent_today(mailboxes: Sequence[Mailbox], now: datetime) -> Counter[int]:
    """Emails each mailbox sent since its client's midnight: recorded, or claimed and still being sent (two
    grouped queries)."""
    counts: Counter[int] = Counter()
    if not mailboxes:
        return counts
    clients = [mailbox.client for mailbox in mailboxes]
    recorded, in_flight = since_day_start(clients, now, "created_at"), since_day_start(clients, now, "claimed_at")
    ids = [mailbox.pk for mailbox in mailboxes]
    sends = Activity.objects.filter(recorded, mailbox_id__in=ids, action=ActivityAction.EMAIL_SENT)
    for row in sends.values("mailbox_id").annotate(n=Count("pk")).order_by():
        counts[row["mailbox_id"]] += row["n"]
    claimed = ScheduledTouch.objects.filter(
        in_flight, channel=Channel.EMAIL, status=TouchStatus.SENDING, enrollment__mailbox_id__in=ids
    )
    for row in claimed.values("enrollment__mailbox_id").annotate(n=Count("pk")).order_by():
        counts[row["enrollment__mailbox_id"]] += row["n"]
    return counts


def capacity_today(clients: Iterable[Client], now: datetime) -> Capacity:
    """The sends each of the clients' mailboxes has left today (three queries for any number of clients)."""
    by_pk = {client.pk: client for client in clients}
    mailboxes = list(Mailbox.objects.filter(client_id__in=by_pk).order_by("pk"))
    for mailbox in mailboxes:
        mailbox.client = by_pk[mailbox.client_id]
    sent = sent_today(mailboxes, now)
    left = {mailbox.pk: max(cap_today(mailbox, now) - sent[mailbox.pk], 0) for mailbox in mailboxes}
    return Capacity(left, mailboxes)


def mailbox_for(enrollment: Enrollment, capacity: Capacity, rng: random.Random) -> Mailbox | None:
    """The mailbox the enrollment's next email goes from; None when its client has no mailbox (its sending_email).

    Its own mailbox when it has one that is not retired, whatever its state or what it has left (the caller
    defers the email while it is paused or full). Else one of the client's drawn by the sends each has left
    today, set on the enrollment in memory: save_choices writes a batch's choices. NoMailboxLeft when none has
    any left.
    """
    mailboxes = capacity.of_client(enrollment.client_id)
    if not mailboxes:
        return None
    own = capacity.mailboxes.get(enrollment.mailbox_id) if enrollment.mailbox_id is not None else None
    if own is not None and own.state != MailboxState.RETIRED:
        enrollment.mailbox = own  # the sender reads it from the enrollment
        return own
    index = choose([capacity.get(mailbox.pk, 0) for mailbox in mailboxes], rng)
    if index is None:
        raise NoMailboxLeft(enrollment.client_id)
    enrollment.mailbox = mailboxes[index]
    return enrollment.mailbox


def save_choices(enrollments: Collection[Enrollment], capacity: Capacity) -> None:
    """Save the mailboxes mailbox_for chose for these enrollments, in one statement for a batch. Conditional: a
    mailbox another dispatcher saved meanwhile stands (SQLite; on PostgreSQL the client lock keeps a second one
    out), and is the one set on the enrollment for its email."""
    if not enrollments:
        return
    by_pk = {enrollment.pk: enrollment for enrollment in enrollments}
    rows = [(pk, enrollment.mailbox_id) for pk, enrollment in by_pk.items()]
    if update_from_values(Enrollment, "mailbox_id = v.column2", rows, where=" AND mailbox_id IS NULL") == len(rows):
        return
    saved = Enrollment.objects.filter(pk__in=list(by_pk)).values_list("pk", "mailbox_id")
    for pk, mailbox_id in saved:
        if mailbox_id is not None and mailbox_id != by_pk[pk].mailbox_id and mailbox_id in capacity.mailboxes:
            by_pk[pk].mailbox = capacity.mailboxes[mailbox_id]


# ----------------------------------------------------------------------------
# ESP accounts
# ----------------------------------------------------------------------------


def account_backend(account: str) -> tuple[str, dict[str, object]]:
    """The email backend's dotted path and keyword arguments of an ESP account of OUTREACH_MAILBOX_ACCOUNTS, each
    "<name>_env" option replaced by <name> read from the environment variable it names. MailboxError when the
    account or one of its variables is missing."""
    accounts: Mapping[str, Mapping[str, object]] = settings.OUTREACH_MAILBOX_ACCOUNTS
    if account not in accounts:
        raise MailboxError(
            "unknown_account",
            f"no ESP account {account!r} in OUTREACH_MAILBOX_ACCOUNTS: add it, or give the mailbox another account",
        )
    options: dict[str, object] = {}
    configured = accounts[account].get("options")
    for name, value in (configured if isinstance(configured, dict) else {}).items():
        if not name.endswith("_env"):
            options[name] = value
        elif os.environ.get(str(value)):
            options[name.removesuffix("_env")] = os.environ[str(value)]
        else:
            raise MailboxError(
                "missing_secret", f"ESP account {account!r}: set the environment variable {value} (its {name[:-4]})"
            )
    return str(accounts[account]["backend"]), options


def mailboxes_that_cannot_send() -> list[tuple[str, str]]:
    """Mailboxes not retired whose ESP account is not in OUTREACH_MAILBOX_ACCOUNTS or misses a secret in the
    environment, by address: each with what to do (its emails would fail when they are sent). One query."""
    found = []
    mailboxes = Mailbox.objects.exclude(state=MailboxState.RETIRED).exclude(account="").order_by("address")
    for address, account in mailboxes.values_list("address", "account"):
        try:
            account_backend(account)
        except MailboxError as error:
            found.append((address, str(error)))
    return found


# ----------------------------------------------------------------------------
# State changes: health and a person's actions
# ----------------------------------------------------------------------------


def _change_state(
    mailbox: Mailbox,
    to: str,
    reason: str,
    *,
    now: datetime,
    by: AbstractBaseUser | None = None,
    note: str = "",
    allowed_from: Collection[str],
) -> int:
    """Move a mailbox to `to` (only from a state of `allowed_from`), record it, and move the enrollments that may
    no longer send from it; how many enrollments moved. MailboxError when its state does not allow it."""
    by_id = None if by is None else by.pk
    with transaction.atomic():
        current = Mailbox.objects.select_for_update().select_related("client").get(pk=mailbox.pk)
        if current.state not in allowed_from:
            raise MailboxError(
                f"already_{current.state}" if current.state == to else f"not_from_{current.state}",
                f"mailbox {current} is {current.get_state_display().lower()}: it cannot be {_verb(to)}",
            )
        MailboxStateChange.objects.create(
            mailbox=current, from_state=current.state, to_state=to, reason=reason, note=note, by_id=by_id, at=now
        )
        fields = {"state": to, "state_reason": reason, "state_changed_at": now, "state_changed_by_id": by_id}
        Mailbox.objects.filter(pk=current.pk).update(**fields)
        for name, value in fields.items():
            setattr(mailbox, name, value)
        if to == MailboxState.PAUSED:
            return move_enrollments(current, now=now, started_too=False)
        if to == MailboxState.RETIRED:
            return move_enrollments(current, now=now, started_too=True)
    return 0


def _verb(state: str) -> str:
    verbs: dict[str, str] = {MailboxState.PAUSED: "paused", MailboxState.RETIRED: "retired"}
    return verbs.get(state, "resumed")


def move_enrollments(mailbox: Mailbox, *, now: datetime, started_too: bool, rng: random.Random | None = None) -> int:
    """Give the open enrollments of a mailbox that may no longer send (those that never sent an email from it,
    or all when `started_too`) another of the client's sending mailboxes, drawn by each one's cap today; none
    when it has no other (the next dispatch chooses one when there is). How many moved."""
    enrollments = Enrollment.objects.filter(mailbox=mailbox, state__in=OPEN_ENROLLMENT_STATES)
    if not started_too:
        sent_from_it = Activity.objects.filter(
            sequence_id=OuterRef("sequence_id"), mailbox=mailbox, action=ActivityAction.EMAIL_SENT
        )
        enrollments = enrollments.exclude(Exists(sent_from_it))
    moving = list(enrollments.values_list("pk", flat=True))
    if not moving:
        return 0
    others = [
        other
        for other in Mailbox.objects.filter(client_id=mailbox.client_id, state__in=SENDING_MAILBOX_STATES)
        .exclude(pk=mailbox.pk)
        .select_related("client")
        .order_by("pk")
    ]
    weights = [cap_today(other, now) for other in others]
    rng = rng or random.Random()
    targets: defaultdict[int | None, list[int]] = defaultdict(list)
    for pk in moving:
        index = choose(weights, rng)
        targets[None if index is None else others[index].pk].append(pk)
    for target, pks in targets.items():
        Enrollment.objects.filter(pk__in=pks).update(mailbox_id=target)
    return len(moving)


def pause(mailbox: Mailbox, by: AbstractBaseUser | None, note: str = "", *, now: datetime | None = None) -> int:
    """A person pauses a warming or active mailbox; how many enrollments moved to the client's other mailboxes."""
    return _change_state(
        mailbox, MailboxState.PAUSED, MailboxStateReason.BY_PERSON, now=now or timezone.now(), by=by, note=note,
        allowed_from=SENDING_MAILBOX_STATES,
    )  # fmt: skip


def resume(mailbox: Mailbox, by: AbstractBaseUser | None, note: str = "", *, now: datetime | None = None) -> None:
    """A person resumes a paused mailbox: warming again while its ramp is below its cap, else active. Its health
    is then judged only on what it sends after this."""
    now = now or timezone.now()
    ramped = warmed_up(replace(plan_of(mailbox), state=MailboxState.WARMING), client_day(mailbox.client, now)[0])
    to = MailboxState.ACTIVE if ramped else MailboxState.WARMING
    _change_state(
        mailbox, to, MailboxStateReason.BY_PERSON, now=now, by=by, note=note, allowed_from=(MailboxState.PAUSED,)
    )


def retire(mailbox: Mailbox, by: AbstractBaseUser | None, note: str = "", *, now: datetime | None = None) -> int:
    """A person retires a mailbox for good; every open enrollment on it moves to the client's other mailboxes
    (how many)."""
    return _change_state(
        mailbox, MailboxState.RETIRED, MailboxStateReason.BY_PERSON, now=now or timezone.now(), by=by, note=note,
        allowed_from=(MailboxState.WARMING, MailboxState.ACTIVE, MailboxState.PAUSED),
    )  # fmt: skip


# ----------------------------------------------------------------------------
# Health
# ----------------------------------------------------------------------------


def resumed_at(mailbox_ids: Collection[int]) -> dict[int, datetime]:
    """When each mailbox was last resumed (those never paused are left out): its health counts only what it sent
    after, or a resumed mailbox would be paused again at once by the sends that paused it. One query."""
    rows = (
        MailboxStateChange.objects.filter(mailbox_id__in=mailbox_ids, from_state=MailboxState.PAUSED)
        .values("mailbox_id")
        .annotate(last=Max("at"))
        .order_by()
    )
    return {row["mailbox_id"]: row["last"] for row in rows}


def window_verdict(
    floors: Mapping[int, datetime | None], now: datetime, thresholds: Thresholds = DEFAULT_THRESHOLDS
) -> Verdict:
    """The health of the emails sent from the mailboxes of `floors` (each counted from its floor, when it has
    one) in the rolling window: the last `window_sends` sends or `window_days` days, whichever is shorter. Two
    queries."""
    week = now - timedelta(days=thresholds.window_days)
    scope = Q(pk__in=[])
    for mailbox_id, floor in floors.items():
        scope |= Q(mailbox_id=mailbox_id, created_at__gte=max(week, floor) if floor else week)
    sends = Activity.objects.filter(scope, action=ActivityAction.EMAIL_SENT, created_at__lte=now)
    newest = sends.order_by("-created_at").values_list("created_at", flat=True)
    nth = newest[thresholds.window_sends - 1 : thresholds.window_sends].first()
    counted = sends.filter(created_at__gte=window_start(now, nth, thresholds)).aggregate(
        sends=Count("pk", distinct=True),
        bounces=Count("pk", distinct=True, filter=Q(responses__action=ActivityAction.EMAIL_BOUNCED)),
        complaints=Count("pk", distinct=True, filter=Q(responses__action=ActivityAction.EMAIL_COMPLAINED)),
    )
    return health(counted["sends"], counted["bounces"], counted["complaints"], thresholds)


def check_health(mailbox: Mailbox, now: datetime | None = None, thresholds: Thresholds = DEFAULT_THRESHOLDS) -> Verdict:
    """Judge one mailbox on its own rates, and pause it when they are over their limits (a mailbox that is not
    sending is only judged)."""
    now = now or timezone.now()
    verdict = window_verdict({mailbox.pk: resumed_at([mailbox.pk]).get(mailbox.pk)}, now, thresholds)
    if not verdict.healthy and mailbox.state in SENDING_MAILBOX_STATES:
        _pause_for(mailbox, MAILBOX_REASONS[verdict.reason], verdict, now)
    return verdict


def _pause_for(mailbox: Mailbox, reason: str, verdict: Verdict, now: datetime) -> None:
    note = (
        f"{verdict.sends} sends: {_percent(verdict.bounce_rate)} hard bounces, "
        f"{_percent(verdict.complaint_rate)} complaints"
    )
    _change_state(mailbox, MailboxState.PAUSED, reason, now=now, note=note, allowed_from=SENDING_MAILBOX_STATES)


def _percent(rate: float | None) -> str:
    return "-" if rate is None else f"{100 * rate:.2f}%"


@dataclass(frozen=True)
class HealthReport:
    """What check_all_health did: the mailboxes it paused (with the reason), and those it found warmed up."""

    checked: int
    paused: list[tuple[Mailbox, str]]
    warmed_up: list[Mailbox]


def check_all_health(
    now: datetime | None = None,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    *,
    client_ids: Collection[int] | None = None,
) -> HealthReport:
    """Judge every mailbox still sending (of `client_ids` only, when given: the demo judges its own), then every
    sending domain of several mailboxes (one mailbox's domain is that mailbox), pausing those over their limits;
    a warming mailbox whose ramp reached its cap becomes active."""
    now = now or timezone.now()
    kept = Mailbox.objects.exclude(state=MailboxState.RETIRED)
    if client_ids is not None:
        kept = kept.filter(client_id__in=client_ids)
    mailboxes = list(kept.select_related("client").order_by("pk"))
    floors = resumed_at([mailbox.pk for mailbox in mailboxes])
    paused: list[tuple[Mailbox, str]] = []
    promoted = []
    for mailbox in mailboxes:
        if mailbox.state not in SENDING_MAILBOX_STATES:
            continue
        verdict = window_verdict({mailbox.pk: floors.get(mailbox.pk)}, now, thresholds)
        if not verdict.healthy:
            _pause_for(mailbox, MAILBOX_REASONS[verdict.reason], verdict, now)
            paused.append((mailbox, MAILBOX_REASONS[verdict.reason]))
        elif warmed_up(plan_of(mailbox), client_day(mailbox.client, now)[0]):
            _change_state(
                mailbox, MailboxState.ACTIVE, MailboxStateReason.WARMED_UP, now=now,
                allowed_from=(MailboxState.WARMING,),
            )  # fmt: skip
            promoted.append(mailbox)
    domains: defaultdict[str, list[Mailbox]] = defaultdict(list)
    for mailbox in mailboxes:
        domains[mailbox.sending_domain].append(mailbox)
    for on_domain in (on_domain for on_domain in domains.values() if len(on_domain) > 1):
        verdict = window_verdict({m.pk: floors.get(m.pk) for m in on_domain}, now, thresholds)
        sending = [m for m in on_domain if m.state in SENDING_MAILBOX_STATES] if not verdict.healthy else []
        for mailbox in sending:
            _pause_for(mailbox, DOMAIN_REASONS[verdict.reason], verdict, now)
            paused.append((mailbox, DOMAIN_REASONS[verdict.reason]))
    return HealthReport(len(mailboxes), paused, promoted)


# ----------------------------------------------------------------------------
# Reporting
# ----------------------------------------------------------------------------


@dataclass(frozen=True)
class MailboxSends:
    """A mailbox's emails since some time, and how many of them bounced hard or were marked as spam."""

    sends: int = 0
    hard_bounces: int = 0
    complaints: int = 0

    @property
    def bounce_rate(self) -> float | None:
        return self.hard_bounces / self.sends if self.sends else None

    @property
    def complaint_rate(self) -> float | None:
        return self.complaints / self.sends if self.sends else None


def mailbox_sends(mailbox_ids: Collection[int], since: datetime) -> dict[int, MailboxSends]:
    """Each mailbox's emails sent since `since`, with their hard bounces and complaints (one grouped query);
    mailboxes that sent nothing are left out."""
    rows = (
        Activity.objects.filter(mailbox_id__in=mailbox_ids, action=ActivityAction.EMAIL_SENT, created_at__gte=since)
        .values("mailbox_id")
        .annotate(
            sends=Count("pk", distinct=True),
            bounces=Count("pk", distinct=True, filter=Q(responses__action=ActivityAction.EMAIL_BOUNCED)),
            complaints=Count("pk", distinct=True, filter=Q(responses__action=ActivityAction.EMAIL_COMPLAINED)),
        )
        .order_by()
    )
    return {row["mailbox_id"]: MailboxSends(row["sends"], row["bounces"], row["complaints"]) for row in rows}


def sends_per_mailbox(client: Client, since: datetime) -> list[tuple[Mailbox, MailboxSends]]:
    """Each of the client's mailboxes, by address, with its emails since `since` (two queries)."""
    mailboxes = list(client.mailboxes.order_by("address"))
    counts = mailbox_sends([mailbox.pk for mailbox in mailboxes], since)
    return [(mailbox, counts.get(mailbox.pk, MailboxSends())) for mailbox in mailboxes]
