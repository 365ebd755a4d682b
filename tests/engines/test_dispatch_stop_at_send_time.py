"""A stop that commits while a dispatcher batch is sending holds for every send of that batch that has not
started yet (outbox.check_still_allowed, made by dispatcher.SendPool just before each call), on one sending
thread and on several, on both databases.

The fake provider's first call commits a stop for some leads of the batch from another connection (a thread
of its own), and every call returns only once that stop has committed. So at most `threads` calls can start
before the stop commits, and they are the batch's first `threads` touches (oldest first); the stopped leads'
touches all come later in the batch, so none of them may reach the provider. No sleeps: the order comes from
the events and the pool's free threads.
"""

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from anymail.backends.test import EmailBackend as AnymailTestBackend
from django.core import mail
from django.db import DatabaseError, connection, transaction

from engines.db.contact import LookAhead
from engines.providers.sms import RecordingSmsProvider, SentSms
from engines.services.journey.contact import mark_replied, stop_contact
from engines.services.outcomes.events import unsubscribe_lead
from engines.services.sending import dispatcher, outbox
from engines.services.sending.dispatcher import dispatch_due_touches
from outreach.models import Activity, Enrollment, Lead, ManualTask, ScheduledTouch
from outreach.models.choices import StopReason
from tests.factories import ClientFactory, LeadFactory, MessageTemplateFactory, ScheduledTouchFactory

SYDNEY = ZoneInfo("Australia/Sydney")
# Wednesday 4 March 2026, 10:30 in Sydney: inside Australian contact hours (SMS may go).
NOW = datetime(2026, 3, 4, 10, 30, tzinfo=SYDNEY)
BATCH = 20
# Where, after the first `threads` touches (the calls that may start before the stop), the stopped leads are.
STOPPED_AFTER_THE_FIRST_CALLS = (1, 4, 7, 11)
WAIT = 60  # seconds: only a broken dispatcher waits this long (then the test fails, it does not hang)


class StopDuringFirstSend:
    """The fake providers' behaviour: the first call starts `stop` on a thread with its own database connection;
    every call records whom it reached and whether the stop had committed when it started, then returns only
    once the stop has committed."""

    def __init__(self, stop: Callable[[], None]):
        self.stop = stop
        self.committed = threading.Event()
        self.calls: list[tuple[str, bool]] = []
        self.errors: list[BaseException] = []
        self._lock = threading.Lock()
        self._stopper: threading.Thread | None = None

    def call(self, recipient: str) -> None:
        with self._lock:
            self.calls.append((recipient, self.committed.is_set()))
            if self._stopper is None:
                self._stopper = threading.Thread(target=self._commit_stop, name="stopper")
                self._stopper.start()
        if not self.committed.wait(WAIT):
            self.errors.append(TimeoutError("the stop never committed: it waits on the dispatcher"))

    def _commit_stop(self) -> None:
        try:
            self.stop()
        except BaseException as error:  # the test asserts on it
            self.errors.append(error)
        finally:
            connection.close()  # this thread's own connection
            self.committed.set()

    def join(self) -> None:
        if self._stopper is not None:
            self._stopper.join(WAIT)


class FirstCall:
    """A fake provider's behaviour that only records whom each call reached, and runs `first` at the first call."""

    def __init__(self, first: Callable[[], None]):
        self.first = first
        self.calls: list[tuple[str, bool]] = []
        self._lock = threading.Lock()

    def call(self, recipient: str) -> None:
        with self._lock:
            self.calls.append((recipient, False))
            if len(self.calls) == 1:
                self.first()


ACTIVE: list[StopDuringFirstSend | FirstCall] = []


class StoppingEmailBackend(AnymailTestBackend):
    """Anymail's test backend (mail.outbox), behind StopDuringFirstSend."""

    def send_messages(self, email_messages):
        for message in email_messages:
            ACTIVE[0].call(message.to[0])
        return super().send_messages(email_messages)


class StoppingSmsProvider(RecordingSmsProvider):
    """The recording SMS provider, behind StopDuringFirstSend."""

    def send(self, *, to: str, from_: str, body: str) -> SentSms:
        ACTIVE[0].call(to)
        return super().send(to=to, from_=from_, body=body)


@pytest.fixture(autouse=True)
def stopping_providers(settings):
    settings.EMAIL_BACKEND = f"{__name__}.StoppingEmailBackend"
    settings.SMS_PROVIDER = f"{__name__}.StoppingSmsProvider"
    mail.outbox = []
    RecordingSmsProvider.outbox.clear()
    yield
    ACTIVE.clear()


def batch(channel):
    """BATCH due touches of one client, one lead each (distinct addresses and phones), oldest first."""
    client = ClientFactory(daily_email_limit=1000, daily_sms_limit=1000)
    MessageTemplateFactory(client=client, channel=channel, touch_number=1, subject="Hi {first_name}")
    return [
        ScheduledTouchFactory(
            lead=LeadFactory(client=client, phone=f"+6141234{i:04d}"),
            client=client,
            channel=channel,
            scheduled_at=NOW - timedelta(hours=1, minutes=BATCH - i),
        )
        for i in range(BATCH)
    ]


# The stop each kind commits through the journey's owner of contact state (a reply: mark_replied).
STOPS = {
    "unsubscribed": StopReason.UNSUBSCRIBED,
    "do_not_contact": StopReason.DO_NOT_CONTACT,
    "sms_opted_out": StopReason.SMS_OPTED_OUT,
}


def commit_stop(kind: str, lead_ids: list[int]) -> None:
    """Stop contact with these leads as the outcomes stage does (journey.contact, in one transaction);
    "enrollment_paused" pauses their enrollments instead."""
    leads = list(Lead.objects.filter(pk__in=lead_ids))
    with transaction.atomic():
        if kind == "enrollment_paused":
            Enrollment.objects.filter(lead_id__in=lead_ids).update(state="paused")
            return
        for lead in leads:
            if kind == "replied":
                mark_replied(lead)
            else:
                stop_contact(lead, STOPS[kind])


def recipient(touch: ScheduledTouch) -> str:
    lead = Lead.objects.get(pk=touch.lead_id)
    return lead.email if touch.channel == "email" else lead.phone


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("threads", [1, 8])
@pytest.mark.parametrize(
    ("channel", "kind", "refused"),
    [
        ("email", "unsubscribed", ("blocked", "unsubscribed")),
        ("email", "do_not_contact", ("blocked", "do_not_contact")),
        ("email", "replied", ("blocked", "lead_replied")),
        ("sms", "sms_opted_out", ("blocked", "sms_opted_out")),
        # Cancelled like the paused enrollment's other unsent steps, so that resuming plans it again.
        ("email", "enrollment_paused", ("cancelled", "paused")),
    ],
)
def test_a_stop_committed_during_the_first_send_blocks_every_later_send_of_the_batch(threads, channel, kind, refused):
    touches = batch(channel)
    stopped = [touches[threads + offset] for offset in STOPPED_AFTER_THE_FIRST_CALLS]
    fake = StopDuringFirstSend(lambda: commit_stop(kind, [touch.lead_id for touch in stopped]))
    ACTIVE.append(fake)

    counts = dispatch_due_touches(now=NOW, threads=threads)
    fake.join()

    assert fake.errors == []
    reached = [to for to, _ in fake.calls]
    assert not {recipient(touch) for touch in stopped} & set(reached)
    # The stop committed while the batch was sending: the first calls went before it, the rest after.
    before = [to for to, after in fake.calls if not after]
    assert 1 <= len(before) <= threads
    assert len(reached) == BATCH - len(stopped) and len(set(reached)) == len(reached)
    assert (counts["sent"], counts[refused[0]]) == (BATCH - len(stopped), len(stopped))
    for touch in stopped:
        touch.refresh_from_db()
        assert (touch.status, touch.reason, touch.activity_id) == (*refused, None)
    assert Activity.objects.filter(lead_id__in=[touch.lead_id for touch in stopped]).count() == 0
    sent = ScheduledTouch.objects.exclude(pk__in=[touch.pk for touch in stopped])
    assert set(sent.values_list("status", flat=True)) == {"sent"}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("threads", [1, 8])
def test_the_unsubscribe_link_clicked_during_the_first_send_blocks_every_later_send(threads):
    """The link's own service (it locks the lead FOR UPDATE, then records the opt-out) from another connection:
    the dispatcher holds no lock while its calls are made, so the click never waits on a batch."""
    touches = batch("email")
    stopped = [touches[threads + offset] for offset in STOPPED_AFTER_THE_FIRST_CALLS]

    def click_the_links():
        for touch in stopped:
            assert unsubscribe_lead(Lead.objects.get(pk=touch.lead_id), source="unsubscribe_link") is not None

    fake = StopDuringFirstSend(click_the_links)
    ACTIVE.append(fake)

    counts = dispatch_due_touches(now=NOW, threads=threads)
    fake.join()

    assert fake.errors == []
    assert not {recipient(touch) for touch in stopped} & {to for to, _ in fake.calls}
    assert (counts["sent"], counts["blocked"]) == (BATCH - len(stopped), len(stopped))
    assert {(t.status, t.reason) for t in ScheduledTouch.objects.filter(pk__in=[t.pk for t in stopped])} == {
        ("blocked", "unsubscribed")
    }


@pytest.mark.django_db
def test_touches_whose_stop_state_cannot_be_read_go_back_to_planned_unsent(monkeypatch):
    touches = batch("email")
    ACTIVE.append(FirstCall(lambda: None))

    def database_gone(enrollment_ids):
        raise DatabaseError("server closed the connection unexpectedly")

    monkeypatch.setattr(outbox, "contact_states", database_gone)

    counts = dispatch_due_touches(now=NOW, threads=4)

    assert (counts["retried"], counts["sent"]) == (BATCH, 0)
    assert not ACTIVE[0].calls and not mail.outbox
    assert {(t.status, t.claimed_at) for t in ScheduledTouch.objects.all()} == {("planned", None)}
    monkeypatch.undo()
    assert dispatch_due_touches(now=NOW + dispatcher.RETRY_BASE, threads=4)["sent"] == BATCH
    assert {touch.status for touch in ScheduledTouch.objects.filter(pk__in=[t.pk for t in touches])} == {"sent"}


@pytest.mark.django_db
def test_a_call_step_whose_enrollment_was_paused_after_its_claim_opens_no_task_and_waits_for_the_resume():
    """The one-by-one path (calls, LinkedIn) reads the enrollment just before acting too."""
    touch = batch("voice")[0]
    ScheduledTouch.objects.filter(pk=touch.pk).update(status="sending")
    claimed = ScheduledTouch.objects.get(pk=touch.pk)
    Enrollment.objects.filter(pk=touch.enrollment_id).update(state="paused")

    outcome = dispatcher.send_claimed_touch(claimed, now=NOW)

    touch.refresh_from_db()
    assert (outcome, touch.status, touch.reason) == ("cancelled", "cancelled", "paused")
    assert not ManualTask.objects.filter(scheduled_touch=touch).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(("threads", "looks"), [(1, BATCH), (BATCH + 12, 1)])
def test_the_calls_that_start_together_share_one_last_look(monkeypatch, threads, looks):
    """The batching is kept: with a thread free for every touch, one query reads them all just before they start."""
    batch("email")
    ACTIVE.append(FirstCall(lambda: None))
    reads = []
    real = outbox.contact_states
    monkeypatch.setattr(outbox, "contact_states", lambda ids: reads.append(len(ids)) or real(ids))

    assert dispatch_due_touches(now=NOW, threads=threads)["sent"] == BATCH

    assert len(reads) == looks and sum(reads) == BATCH


@pytest.mark.django_db(transaction=True)
def test_with_one_thread_each_look_is_sent_once_the_previous_call_has_returned_and_read_just_before_its_call(
    monkeypatch,
):
    """PostgreSQL: the look's round trip overlaps preparing the touch, and a stop committed during a call is still
    seen by every later one (the test above). SQLite: each look is read just before its call."""
    touches = batch("email")
    events: list[tuple[str, object]] = []
    ACTIVE.append(FirstCall(lambda: None))
    real_send, real_receive, real_states = LookAhead.send, LookAhead.receive, outbox.contact_states

    def send(self, ids):
        events.append(("sent ahead", set(ids)))
        real_send(self, ids)

    def receive(self, ids):
        answer = real_receive(self, ids)
        events.append(("answered", set(ids)) if answer is not None else ("not sent ahead", set(ids)))
        return answer

    monkeypatch.setattr(LookAhead, "send", send)
    monkeypatch.setattr(LookAhead, "receive", receive)
    monkeypatch.setattr(outbox, "contact_states", lambda ids: events.append(("read", set(ids))) or real_states(ids))
    backend = StoppingEmailBackend.send_messages
    monkeypatch.setattr(
        StoppingEmailBackend,
        "send_messages",
        lambda self, messages: events.append(("call", messages[0].to[0])) or backend(self, messages),
    )

    assert dispatch_due_touches(now=NOW, threads=1)["sent"] == BATCH

    looks = ("sent ahead", "answered") if connection.vendor == "postgresql" else ("read",)
    expected = [
        event
        for touch in touches
        for event in [*((look, {touch.enrollment_id}) for look in looks), ("call", recipient(touch))]
    ]
    assert events == expected
