"""Dispatcher: sends every due touch exactly once, through the outbox (`ScheduledTouch`).

One run (`dispatch_due_touches`, every minute from a django-q2 schedule):

1. Reconciles claims a dead worker left in `sending` for longer than CLAIM_TIMEOUT: a touch whose
   Activity exists becomes `sent`, one whose ManualTask exists `waiting`, any other `review` (a person
   checks the provider and decides). Nothing is resent blindly.
2. Claims due touches in batches, oldest first: on PostgreSQL `SELECT ... FOR UPDATE SKIP LOCKED` then one
   UPDATE, on SQLite one conditional `UPDATE ... WHERE status='planned'` per touch. Two dispatchers, two
   clusters or a task delivered twice therefore never claim one touch twice. A touch that cannot go now is
   not claimed: an SMS or call outside legal contact hours (however late it is) moves to the next legal
   slot, an email or LinkedIn step outside the client's sending window to the window's next opening, the
   surplus over the client's daily limit of its channel, or over its daily cap of emails into one recipient
   company, moves to the next day (all in engines.services.sending.windows), and a lead that can no longer
   be reached on the channel blocks it.
   The claim (status `sending`, claimed_at, attempts + 1) commits before any provider is called.
3. Delivers each claimed batch (deliver_batch): email and SMS touches are rendered and checked again (leads
   read in one query, templates in one), their provider calls made on a small thread pool (SendPool: the
   threads only wait on providers and hold no database connection; calls start only on free threads, as many
   at a time as are free, just after their leads and enrollments are read once more in one query, so a stop
   committed mid-batch holds for every call not yet started), and the accepted sends recorded together
   (one transaction writes the Activities, the touches `sent` and the leads' counts; if it fails, each is
   recorded alone). LinkedIn and call touches go one by one (a ManualTask, or an automated LinkedIn backend).
   Outcomes: sent; waiting (a ManualTask was opened); blocked (SendBlocked / MissingField, with its reason,
   never retried); cancelled (the enrollment was paused after the claim: resuming plans it again); a
   retryable ProviderError back to `planned` with exponential backoff, up to MAX_ATTEMPTS, then failed; any
   other error failed with last_error; SentNotRecorded (or an unexpected error, which may have come after the
   provider accepted) `review`.
"""

from __future__ import annotations

import logging
import queue
import threading
import time as monotonic_time
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypedDict, cast

from django.conf import settings
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.db import DatabaseError, connection, connections, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from engines.db.contact import LookAhead
from engines.db.features import can_write_alongside, skips_locked_rows
from engines.db.rows import instances
from engines.exceptions import EnrollmentNotActive, InvalidTouch, ProviderError, SendBlocked, SentNotRecorded
from engines.providers import load_provider
from engines.providers.sms import SmsNumberRefused, SmsProvider
from engines.rules.compliance import TIMED_CHANNELS
from engines.services import later
from engines.services.journey.contact import NUMBER_FAULT_STOPS
from engines.services.journey.enrollments import finish_completed
from engines.services.sending import outbox, send_path
from engines.services.sending.email import close_account_connections, earlier_emails
from engines.services.sending.outbox import StopStateUnknown
from engines.services.sending.rendering import TemplateBook, texts_given
from engines.services.sending.sms import record_number_refused
from engines.services.sending.windows import DailyBudget, next_contact_slot, next_day_slot
from outreach.models import (
    Activity,
    Channel,
    Client,
    Enrollment,
    EnrollmentState,
    Lead,
    ManualTask,
    ScheduledTouch,
    TouchStatus,
)
from outreach.models.choices import SENT_ACTIONS, StopReason

logger = logging.getLogger(__name__)

BATCH_SIZE = 200
# Far longer than one delivery can take (provider timeouts are 15-30 s), so only a dead worker's claim expires.
CLAIM_TIMEOUT = timedelta(minutes=15)
MAX_ATTEMPTS = 5
# Waits after failed attempts 1, 2, 3, 4: 5, 10, 20 and 40 minutes.
RETRY_BASE = timedelta(minutes=5)
# A run stops claiming after this long, well inside django-q2's task timeout; the next minute's run goes on.
TIME_BUDGET_SECONDS = 45.0
# Provider calls in flight per run: enough to overlap their round-trips (at 50 ms each, 32 threads allow
# 640 sends/s). They hold no database connection.
DEFAULT_THREADS = 32
# A lead in one of these has a person talking to them: no touch goes out.
OUTCOMES = (
    "sent",
    "waiting",
    "blocked",
    "cancelled",
    "deferred",
    "retried",
    "failed",
    "review",
    # The outcome could not be recorded (the database went away): the claim expires into review.
    "unsettled",
    "reconciled_sent",
    "reconciled_waiting",
    "reconciled_review",
)


@dataclass(frozen=True)
class Decision:
    """What a due touch gets now: "send", "defer" (to `at`, because of `reason`) or "block" (with `reason`)."""

    touch: ScheduledTouch
    action: str
    reason: str = ""
    at: datetime | None = None


def decide(touch: ScheduledTouch, now: datetime, budget: DailyBudget) -> Decision:
    """Whether a due touch goes now, waits (and until when), or cannot go at all."""
    # The same checks, in the same order, as the last look before the call (outbox.check_state).
    try:
        outbox.check_lead_open(touch.lead, touch.channel)
    except SendBlocked as refused:
        return Decision(touch, "block", refused.reason)
    if touch.enrollment.state != EnrollmentState.ACTIVE:  # paused or ended since the step was planned
        return Decision(touch, "block", EnrollmentNotActive(touch.enrollment.state).reason)
    legal = next_contact_slot(touch, now)
    if legal > now:
        return Decision(touch, "defer", "quiet_hours" if touch.channel in TIMED_CHANNELS else "sending_window", legal)
    held = budget.take(touch)  # the client's daily limit of the channel, or its daily cap per recipient company
    if held:
        return Decision(touch, "defer", held, next_day_slot(touch, now))
    return Decision(touch, "send")


# ----------------------------------------------------------------------------
# Claiming
# ----------------------------------------------------------------------------


# What a run reads of a touch's enrollment: whether it is active, and its mailbox (its client's, to draw one).
_ENROLLMENT_FIELDS_READ = ("id", "state", "client", "lead", "mailbox")
# Left unread by the claim, as a run never uses them and loading them cost every claimed touch (a timestamp or
# a JSON value costs a parse each): the enrollment's other fields, how the touch was planned, and the scoring
# and bookkeeping fields of its lead. A field used anyway loads on first use, one query per touch
# (tests/engines/test_dispatch_reads.py fails then).
_UNREAD = (
    *(
        f"enrollment__{field.name}"
        for field in Enrollment._meta.concrete_fields
        if field.name not in _ENROLLMENT_FIELDS_READ
    ),
    *("lead_tier", "planned_sequence", "is_exploration", "exploration", "last_error", "created_at", "updated_at"),
    *(
        f"lead__{name}"
        for name in (
            "als_components",
            "als_weights_used",
            "als_weights_source",
            "scored_at",
            "converted_at",
            "created_at",
        )
    ),
)


def _due(now: datetime, client_ids: Collection[int] | None = None) -> QuerySet[ScheduledTouch]:
    due = ScheduledTouch.objects.filter(status=TouchStatus.PLANNED, scheduled_at__lte=now)
    if client_ids is not None:
        due = due.filter(client_id__in=client_ids)
    return due.order_by("scheduled_at", "pk")


def _touches(due: QuerySet[ScheduledTouch]) -> list[ScheduledTouch]:
    """The due touches, each with its lead and enrollment."""
    return instances(due, ("lead", "enrollment"), _UNREAD)


def _with_clients(touches: list[ScheduledTouch], clients: dict[int, Client] | None = None) -> list[ScheduledTouch]:
    """The touches, each given its client from `clients` (else from one query): a batch has few clients, and a
    join would build one client object per touch."""
    if clients is None:
        clients = Client.objects.in_bulk({touch.client_id for touch in touches})
    for touch in touches:
        touch.client = clients[touch.client_id]
    return touches


def preview_due_touches(
    *, now: datetime | None = None, limit: int | None = None, client_ids: Collection[int] | None = None
) -> list[Decision]:
    """What a run at `now` would do with each due touch (oldest first), without claiming or changing anything."""
    now = now or timezone.now()
    due = _with_clients(_touches(_due(now, client_ids) if limit is None else _due(now, client_ids)[:limit]))
    budget = DailyBudget(now, due)
    return [decide(touch, now, budget) for touch in due]


def _claim_batch(
    now: datetime, size: int, counts: Counter[str], client_ids: Collection[int] | None = None
) -> tuple[int, list[ScheduledTouch]]:
    """Decide the next `size` due touches and claim those that go; (how many were looked at, the claimed)."""
    if skips_locked_rows():
        with transaction.atomic():
            touches = _touches(_due(now, client_ids).select_for_update(skip_locked=True, of=("self",))[:size])
            # Locked (no-key, so foreign-key checks of concurrent inserts are not blocked): two claimers
            # of one client count its daily sends one after the other.
            locked = Client.objects.select_for_update(no_key=True).filter(pk__in={t.client_id for t in touches})
            _with_clients(touches, {client.pk: client for client in locked.order_by("pk")})
            budget = DailyBudget(now, touches)
            decisions = [decide(t, now, budget) for t in touches]
            budget.save_choices()
            claimed = _apply(decisions, now, counts, conditional=False)
        return len(touches), claimed
    # SQLite: each write is its own short transaction, so a reader never has to upgrade its lock (which
    # SQLite refuses at once, without waiting, while another connection writes).
    touches = _with_clients(_touches(_due(now, client_ids)[:size]))
    budget = DailyBudget(now, touches)
    decisions = [decide(t, now, budget) for t in touches]
    budget.save_choices()
    return len(touches), _apply(decisions, now, counts, conditional=True)


def _apply(
    decisions: list[Decision], now: datetime, counts: Counter[str], *, conditional: bool
) -> list[ScheduledTouch]:
    """Write the decisions: claim, defer or block each touch; the claimed touches, as `sending`.

    `conditional` claims each touch with its own UPDATE ... WHERE status='planned' and keeps only
    those it won; otherwise the rows are locked by the caller and one UPDATE claims them all.
    """
    planned = ScheduledTouch.objects.filter(status=TouchStatus.PLANNED)
    for decision in decisions:
        if decision.action == "defer":
            if planned.filter(pk=decision.touch.pk).update(scheduled_at=decision.at, reason=decision.reason):
                counts["deferred"] += 1
        elif decision.action == "block":
            if planned.filter(pk=decision.touch.pk).update(
                status=TouchStatus.BLOCKED, reason=decision.reason[:120], updated_at=now
            ):
                counts["blocked"] += 1
    finish_completed({decision.touch.lead_id for decision in decisions if decision.action == "block"})
    going = [decision.touch for decision in decisions if decision.action == "send"]
    claim = {"status": TouchStatus.SENDING, "claimed_at": now, "attempts": F("attempts") + 1, "updated_at": now}
    if conditional:
        going = [touch for touch in going if planned.filter(pk=touch.pk).update(**claim)]
    elif going:
        planned.filter(pk__in=[touch.pk for touch in going]).update(**claim)
    for touch in going:
        touch.status, touch.claimed_at, touch.attempts = TouchStatus.SENDING, now, touch.attempts + 1
    return going


# ----------------------------------------------------------------------------
# Delivering and recording the outcome
# ----------------------------------------------------------------------------


def retry_delay(attempts: int) -> timedelta:
    """The wait before the next attempt, after `attempts` failed ones: 5 minutes, doubling each time."""
    delay: timedelta = RETRY_BASE * 2 ** max(attempts - 1, 0)
    return delay


def _finish(touch: ScheduledTouch, **fields: object) -> None:
    """Record an outcome on a touch this run still holds (a reconciliation may have taken it meanwhile); a step
    that can no longer go out (blocked, failed) may have been its enrollment's last."""
    ScheduledTouch.objects.filter(pk=touch.pk, status=TouchStatus.SENDING).update(updated_at=timezone.now(), **fields)
    if fields.get("status") in (TouchStatus.BLOCKED, TouchStatus.FAILED):
        finish_completed([touch.lead_id])


class Senders:
    """One thread's provider handles, opened at first use and reused for all its touches (an ESP keeps
    its HTTP session, the SMS provider its client), then closed."""

    def __init__(self) -> None:
        self._email: BaseEmailBackend | None = None
        self._sms: SmsProvider | None = None

    def email(self) -> BaseEmailBackend:
        if self._email is None:
            self._email = mail.get_connection()
            self._email.open()
        return self._email

    def sms(self) -> SmsProvider:
        if self._sms is None:
            self._sms = cast(SmsProvider, load_provider(settings.SMS_PROVIDER))
        return self._sms

    def handle(self, channel: str) -> BaseEmailBackend | SmsProvider | None:
        """The email connection or SMS provider for `channel` (None for the others)."""
        if channel == Channel.EMAIL:
            return self.email()
        if channel == Channel.SMS:
            return self.sms()
        return None

    def close(self) -> None:
        if self._email is not None:
            self._email.close()


Answer = Callable[[], send_path.Sent | Exception]
Started = list[tuple[ScheduledTouch, send_path.Prepared, Answer]]


class SendPool:
    """Where a run's provider calls happen: on `threads` threads, so they overlap their network waits (one
    thread: in the caller's). The calls never touch the database, so the threads hold no connection.

    Calls start only on free threads, as many at a time as are free, right after their touches' last look
    (outbox.refusals, one query for them all, in the caller's thread): so a stop that commits while the batch
    is going out holds for every call not yet started. With one thread, each touch's look is sent once the
    previous call has returned (`look_ahead`, on PostgreSQL), and read when the touch is prepared.
    """

    def __init__(self, threads: int):
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="dispatch-send") if threads > 1 else None
        self._free = threads
        self._freed = threading.Condition()
        self._local = threading.local()
        self._opened: list[Senders] = []
        self._lock = threading.Lock()
        self._ahead: LookAhead | None = None
        self._ahead_tried = False

    def senders(self) -> Senders:
        """This thread's provider handles."""
        senders = getattr(self._local, "senders", None)
        if senders is None:
            senders = self._local.senders = Senders()
            with self._lock:
                self._opened.append(senders)
        return senders

    def free_threads(self) -> int:
        with self._freed:
            return self._free

    def look_ahead(self, touch: ScheduledTouch) -> None:
        """Calls made one at a time, and none out: send the last look of `touch`, the next to start (if it goes to
        a provider: the others read their own, just before they act)."""
        if self._executor is not None or touch.channel not in outbox.AUTOMATED_CHANNELS:
            return
        if not self._ahead_tried:
            self._ahead, self._ahead_tried = LookAhead.open(), True
        if self._ahead is not None:
            self._ahead.send([touch.enrollment_id])

    def start(
        self, ready: list[tuple[ScheduledTouch, send_path.Prepared]], *, coming: ScheduledTouch | None = None
    ) -> Started:
        """Start the calls of the first of `ready` (oldest first), as many as threads are free once one is (this
        waits for one); they leave `ready`. Each comes with a callable giving the provider's answer, or the
        exception its last look or its call raised (a refused touch makes no call). `coming`: the touch to be
        prepared and started next, if any (its look is sent ahead)."""
        with self._freed:
            self._freed.wait_for(lambda: self._free > 0)
            group = ready[: self._free]
            self._free -= len(group)
        del ready[: len(group)]
        refused = outbox.refusals(
            [touch for touch, _ in group],
            leads={touch.lead_id: prepared.outgoing.lead for touch, prepared in group},
            ahead=self._ahead,
        )
        started: Started = []
        for touch, prepared in group:
            error = refused.get(touch.pk)
            if error is not None:  # the caller settles the touch from it
                self._release()
                started.append((touch, prepared, _answered(error)))
            elif self._executor is None:
                started.append((touch, prepared, _answered(self._send(prepared))))
            else:
                started.append((touch, prepared, self._executor.submit(self._send, prepared).result))
        if coming is not None:
            self.look_ahead(coming)
        return started

    def _send(self, prepared: send_path.Prepared) -> send_path.Sent | Exception:
        try:
            return prepared.send(self.senders().handle(prepared.outgoing.channel))
        except Exception as exc:  # the caller settles the touch from it
            return exc
        finally:
            self._release()

    def _release(self) -> None:
        with self._freed:
            self._free += 1
            self._freed.notify()

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
        for senders in self._opened:
            senders.close()
        close_account_connections()  # the mailboxes' ESP accounts the threads opened
        if self._ahead is not None:
            self._ahead.close()


def _answered(answer: send_path.Sent | Exception) -> Callable[[], send_path.Sent | Exception]:
    return lambda: answer


def settle(touch: ScheduledTouch, error: Exception, *, now: datetime) -> str:
    """Record on a claimed touch what its failed delivery means; the outcome's name.

    Blocked (never retried) for what the lead or its data forbid; a retryable
    ProviderError back to `planned` with backoff until MAX_ATTEMPTS, then
    failed; an unknown error, which may have come after the provider
    accepted, `review` for a person rather than a retry.
    """
    if isinstance(error, SentNotRecorded):
        _finish(touch, status=TouchStatus.REVIEW, reason="sent_not_recorded", last_error=str(error))
        return "review"
    if isinstance(error, EnrollmentNotActive) and error.state == EnrollmentState.PAUSED:
        _finish(touch, status=TouchStatus.CANCELLED, reason=StopReason.PAUSED, claimed_at=None)
        return "cancelled"
    if isinstance(error, StopStateUnknown):  # nothing was sent
        at = now + RETRY_BASE
        _finish(touch, status=TouchStatus.PLANNED, scheduled_at=at, claimed_at=None, last_error=str(error))
        return "retried"
    if isinstance(error, SendBlocked):
        _finish(touch, status=TouchStatus.BLOCKED, reason=error.reason[:120], last_error=str(error))
        return "blocked"
    if isinstance(error, SmsNumberRefused):  # the number itself: blocked with the stop it says, never retried
        reason = NUMBER_FAULT_STOPS[error.fault]
        _finish(touch, status=TouchStatus.BLOCKED, reason=reason, last_error=str(error))
        return "blocked"
    if isinstance(error, ProviderError):
        if error.retryable and touch.attempts < MAX_ATTEMPTS:
            at = now + retry_delay(touch.attempts)
            _finish(touch, status=TouchStatus.PLANNED, scheduled_at=at, claimed_at=None, last_error=str(error))
            return "retried"
        _finish(touch, status=TouchStatus.FAILED, reason="provider_error", last_error=str(error))
        return "failed"
    if isinstance(error, InvalidTouch):
        _finish(touch, status=TouchStatus.FAILED, reason="invalid_touch", last_error=str(error))
        return "failed"
    logger.error("touch %s failed unexpectedly; left for review", touch.pk, exc_info=error)
    _finish(touch, status=TouchStatus.REVIEW, reason="unexpected_error", last_error=repr(error)[:2000])
    return "review"


class _Providers(TypedDict, total=False):
    """The provider handle outbox.deliver_touch is given for a touch's channel."""

    email_connection: BaseEmailBackend | None
    sms_provider: SmsProvider | None


def send_claimed_touch(
    touch: ScheduledTouch, *, now: datetime, senders: Senders | None = None, templates: TemplateBook | None = None
) -> str:
    """Send one claimed touch through the outbox and record the outcome; the outcome's name."""
    providers: _Providers = {}
    if touch.channel == Channel.EMAIL:
        providers = {"email_connection": senders.email() if senders else None}
    elif touch.channel == Channel.SMS:
        providers = {"sms_provider": senders.sms() if senders else None}
    try:
        result = outbox.deliver_touch(touch, now=now, templates=templates, **providers)
    except Exception as exc:  # a sent-but-unrecorded send was logged with its message id by the send path
        return settle(touch, exc, now=now)
    return "waiting" if isinstance(result, ManualTask) else "sent"


Accepted = list[tuple[ScheduledTouch, send_path.Prepared, send_path.Sent]]


def record_accepted(accepted: Accepted) -> Counter[str]:
    """Record sends the providers accepted (send_path.record_many: together, else one each); counts by outcome."""
    counts: Counter[str] = Counter()
    recorded = send_path.record_many([(prepared, sent) for _, prepared, sent in accepted])
    for (touch, _, _), result in zip(accepted, recorded, strict=True):
        if isinstance(result, SentNotRecorded):
            outbox.hold_for_review(touch, result)
            counts["review"] += 1
        else:
            counts["sent"] += 1
    return counts


class Recorder:
    """Records a run's accepted sends: in the run's thread, or (`behind`) on a thread of its own with its own
    database connection, so that recording one batch overlaps preparing and sending the next.

    Behind, at most one batch waits, and a recorder that cannot connect falls back to recording in the run's
    thread: a send the provider accepted is never left unrecorded for want of a connection.
    """

    def __init__(self, *, behind: bool):
        self.counts: Counter[str] = Counter()
        self._waiting: queue.Queue[Accepted | None] = queue.Queue(maxsize=1)
        self._thread: threading.Thread | None = None
        self._connected = False
        if behind:
            started = threading.Event()
            self._thread = threading.Thread(target=self._run, args=(started,), name="dispatch-record", daemon=True)
            self._thread.start()
            started.wait()
            if not self._connected:
                self._thread.join()
                self._thread = None

    def record(self, accepted: Accepted) -> None:
        if not accepted:
            return
        if self._thread is None:
            self.counts.update(record_accepted(accepted))
        else:
            self._waiting.put(accepted)

    def close(self) -> Counter[str]:
        """Wait for what is still being recorded; the counts of everything recorded."""
        if self._thread is not None:
            self._waiting.put(None)
            self._thread.join()
        return self.counts

    def _run(self, started: threading.Event) -> None:
        try:
            try:
                connection.ensure_connection()
                self._connected = True
            except DatabaseError:
                logger.warning("the dispatch recorder could not connect; recording in the run's thread", exc_info=True)
                return
            finally:
                started.set()
            while (accepted := self._waiting.get()) is not None:
                try:
                    self.counts.update(record_accepted(accepted))
                except Exception:  # not even `review` could be written: the claims expire into review
                    logger.exception("%d accepted sends could not be recorded", len(accepted))
                    self.counts["unsettled"] += len(accepted)
        finally:
            connections.close_all()  # this thread's own connection


def _texts_given(leads: dict[int, Lead], given_in_run: defaultdict[int, set[str]]) -> defaultdict[int, set[str]]:
    """The texts each lead was given: as the database knows them, and by the run's batches not yet recorded."""
    given = texts_given(leads.values())
    for lead_id in leads:
        given[lead_id] |= given_in_run.get(lead_id, set())
    return given


@dataclass
class BatchInFlight:
    """A batch whose calls have started: counts by outcome so far, and the calls whose answers are awaited."""

    counts: Counter[str]
    calls: Started


def deliver_batch(
    touches: list[ScheduledTouch],
    *,
    clock: Callable[[], datetime],
    pool: SendPool,
    given_in_run: defaultdict[int, set[str]] | None = None,
) -> BatchInFlight:
    """Start delivering a batch of claimed touches; settle_batch waits for the calls and records their outcomes.

    Email and SMS touches are prepared here (their leads read in one query,
    their templates in another, the texts their leads were given in two
    more, the emails their enrollments sent before, to thread follow-ups, in
    one more), and started on the pool's free threads as many at a time as
    are free (SendPool.start: their last look in one query). LinkedIn and
    call touches go one by one through outbox.deliver_touch. `given_in_run`:
    the texts the run's earlier batches gave each lead, kept up to date here;
    their sends may still be out or not yet recorded, so the database does
    not know them yet.
    """
    counts: Counter[str] = Counter()
    leads = {touch.lead_id: touch.lead for touch in touches}
    templates = TemplateBook({touch.client_id for touch in touches})
    given_in_run = defaultdict(set) if given_in_run is None else given_in_run
    given = _texts_given(leads, given_in_run)
    threads = earlier_emails(touches, leads)
    ready: list[tuple[ScheduledTouch, send_path.Prepared]] = []
    in_flight: Started = []
    # The touch after each: with one thread its look is sent ahead, once the call before it has returned.
    coming = dict(zip((touch.pk for touch in touches), touches[1:], strict=False))
    if touches:
        pool.look_ahead(touches[0])
    for touch in touches:
        if touch.channel not in outbox.AUTOMATED_CHANNELS:
            counts[send_claimed_touch(touch, now=clock(), senders=pool.senders(), templates=templates)] += 1
            continue
        try:
            prepared = outbox.prepare_touch(
                touch,
                lead=leads.get(touch.lead_id),
                now=clock(),
                templates=templates,
                given=given[touch.lead_id],
                earlier=threads.get(touch.sequence_id, []),
            )
        except Exception as exc:
            counts[settle(touch, exc, now=clock())] += 1
            continue
        # A later step of this run says something else.
        given[touch.lead_id].add(text := str(prepared.snapshot["body"]))
        given_in_run[touch.lead_id].add(text)
        ready.append((touch, prepared))
        # As many ready as threads are free: they start together (one last look), and the rest is prepared
        # while they are sent.
        free = pool.free_threads()
        if free and len(ready) >= free:
            in_flight += pool.start(ready, coming=coming.get(touch.pk))
    while ready:
        in_flight += pool.start(ready)
    return BatchInFlight(counts, in_flight)


def settle_batch(batch: BatchInFlight, *, clock: Callable[[], datetime], recorder: Recorder) -> Counter[str]:
    """Wait for a started batch's calls, settle those that failed and hand the accepted sends to the recorder;
    counts by outcome (the accepted sends are counted by `recorder`)."""
    counts = batch.counts
    accepted: Accepted = []
    for touch, prepared, answer_of in batch.calls:
        answer = answer_of()
        if isinstance(answer, send_path.Sent):
            accepted.append((touch, prepared, answer))
            continue
        if isinstance(answer, SmsNumberRefused):
            record_number_refused(prepared.outgoing.lead, answer)
        counts[settle(touch, answer, now=clock())] += 1
    recorder.record(accepted)
    return counts


# ----------------------------------------------------------------------------
# Crash safety
# ----------------------------------------------------------------------------


def reconcile_stale_claims(*, now: datetime | None = None, timeout: timedelta = CLAIM_TIMEOUT) -> Counter[str]:
    """Settle touches left in `sending` longer than `timeout` (their worker died); counts by outcome.

    deliver_touch writes the Activity and `sent` together and opens a
    ManualTask with `waiting`, so a stale claim normally means the worker
    died before or during the provider call. The provider may have accepted
    it: such a touch goes to `review` for a person to check, never back to
    `planned`. An Activity or ManualTask already written for the touch
    settles it as sent or waiting.
    """
    now = now or timezone.now()
    counts: Counter[str] = Counter()
    stale = ScheduledTouch.objects.filter(
        Q(claimed_at__lt=now - timeout) | Q(claimed_at__isnull=True), status=TouchStatus.SENDING
    ).order_by("pk")
    if not skips_locked_rows():
        for touch in stale:  # each settled by its own conditional UPDATE
            counts[_reconcile(touch)] += 1
        return counts
    with transaction.atomic():
        for touch in stale.select_for_update(skip_locked=True):
            counts[_reconcile(touch)] += 1
    return counts


def _reconcile(touch: ScheduledTouch) -> str:
    activity = (
        Activity.objects.filter(
            lead_id=touch.lead_id,
            sequence_id=touch.sequence_id,
            touch_number=touch.touch_number,
            action__in=SENT_ACTIONS,
            scheduled_touch__isnull=True,
        )
        .order_by("created_at")
        .first()
    )
    fields: dict[str, object] = {"updated_at": timezone.now()}
    if activity is not None:
        fields.update(status=TouchStatus.SENT, activity=activity, reason="reconciled")
        outcome = "reconciled_sent"
    elif ManualTask.objects.filter(scheduled_touch_id=touch.pk).exists():
        fields.update(status=TouchStatus.WAITING)
        outcome = "reconciled_waiting"
    else:
        fields.update(
            status=TouchStatus.REVIEW,
            reason="claim_expired",
            last_error=f"claimed at {touch.claimed_at} by a worker that never confirmed: check the provider "
            "for this touch before sending it again or marking it sent",
        )
        outcome = "reconciled_review"
    ScheduledTouch.objects.filter(pk=touch.pk, status=TouchStatus.SENDING).update(**fields)
    logger.warning("touch %s was left in sending since %s: %s", touch.pk, touch.claimed_at, outcome)
    return outcome


# ----------------------------------------------------------------------------
# The run
# ----------------------------------------------------------------------------


def default_threads() -> int:
    """Sending threads per run: DISPATCH_THREADS (they only wait on providers, and hold no database connection)."""
    return int(getattr(settings, "DISPATCH_THREADS", DEFAULT_THREADS))


def _claimed_batches(
    now: datetime,
    limit: int | None,
    batch_size: int,
    deadline: float,
    counts: Counter[str],
    client_ids: Collection[int] | None = None,
) -> Iterator[list[ScheduledTouch]]:
    """Claimed touches, batch after batch, until none is due, `limit` were claimed or the time is up."""
    claimed = 0
    while limit is None or claimed < limit:
        size = batch_size if limit is None else min(batch_size, limit - claimed)
        looked_at, touches = _claim_batch(now, size, counts, client_ids)
        claimed += len(touches)
        if touches:
            yield touches
        # Fewer due than asked for: none is left (those deferred or blocked are no longer due).
        if looked_at < size or monotonic_time.monotonic() > deadline:
            return


def dispatch_due_touches(
    *,
    now: datetime | None = None,
    limit: int | None = None,
    threads: int | None = None,
    batch_size: int = BATCH_SIZE,
    time_budget: float = TIME_BUDGET_SECONDS,
    client_ids: Collection[int] | None = None,
) -> dict[str, int]:
    """Send the due touches (at most `limit`); counts by outcome (see OUTCOMES).

    `now` fixes the clock for the whole run (tests); by default each touch is
    sent at the real time. Provider calls run on `threads` threads (default
    `default_threads()`); with one, in the caller's thread. `client_ids`
    limits the run to those clients' touches (the demo sends only its own).
    """
    clock: Callable[[], datetime] = (lambda: now) if now is not None else timezone.now
    start = clock()
    counts: Counter[str] = Counter({outcome: 0 for outcome in OUTCOMES})
    counts.update(reconcile_stale_claims(now=start))
    later.before_dispatch_run.run(start)
    deadline = monotonic_time.monotonic() + time_budget
    pool = SendPool(threads or default_threads())
    # Behind only on PostgreSQL outside a transaction: SQLite has one writer, and a second connection
    # would not see what a caller's open transaction claimed.
    recorder = Recorder(behind=can_write_alongside())
    # A batch is settled once the next one has been claimed and started: its last calls are still out while
    # the next is claimed and prepared, rather than every thread waiting for them.
    previous: tuple[list[ScheduledTouch], BatchInFlight] | None = None
    given_in_run: defaultdict[int, set[str]] = defaultdict(set)
    try:
        for batch in _claimed_batches(start, limit, batch_size, deadline, counts, client_ids):
            started = None
            with _unsettled_on_database_error(batch, counts):
                started = (batch, deliver_batch(batch, clock=clock, pool=pool, given_in_run=given_in_run))
            if previous is not None:
                with _unsettled_on_database_error(previous[0], counts):
                    counts.update(settle_batch(previous[1], clock=clock, recorder=recorder))
            previous = started
        if previous is not None:
            with _unsettled_on_database_error(previous[0], counts):
                counts.update(settle_batch(previous[1], clock=clock, recorder=recorder))
    finally:
        pool.close()
        counts.update(recorder.close())
    return dict(counts)


@contextmanager
def _unsettled_on_database_error(batch: list[ScheduledTouch], counts: Counter[str]) -> Iterator[None]:
    """Outcomes that could not be recorded: the batch's claims expire into review (reconcile_stale_claims)."""
    try:
        yield
    except DatabaseError:
        logger.exception("a batch of %d touches: the outcomes could not be recorded", len(batch))
        counts["unsettled"] += len(batch)
