import logging
import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.db import DatabaseError, connection

from engines import tasks
from engines.providers.sms import RecordingSmsProvider, SmsOptedOut
from engines.services.sending import dispatcher, recording
from engines.services.sending.dispatcher import (
    CLAIM_TIMEOUT,
    MAX_ATTEMPTS,
    dispatch_due_touches,
    preview_due_touches,
    retry_delay,
)
from outreach.models import Activity, Lead, ManualTask, ScheduledTouch
from tests.engines.providers.fakes import http_response
from tests.factories import ActivityFactory, ClientFactory, LeadFactory, MessageTemplateFactory, ScheduledTouchFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("test_providers")]

SYDNEY = ZoneInfo("Australia/Sydney")
# Wednesday 4 March 2026, 10:30 in Sydney: a working day, inside Australian contact hours.
NOW = datetime(2026, 3, 4, 10, 30, tzinfo=SYDNEY)


def postmark_accepts(message_id="pm-1"):
    return http_response(200, {"ErrorCode": 0, "Message": "OK", "MessageID": message_id, "To": "x@example.com"})


def due_touch(*, channel="email", at=NOW - timedelta(hours=3), client=None, **lead_fields):
    """A planned touch of a Sydney lead, due at `at`, with a template for its channel."""
    client = client or ClientFactory()
    if not client.message_templates.filter(channel=channel).exists():
        MessageTemplateFactory(client=client, channel=channel, touch_number=1, subject="Hi {first_name}")
    lead = LeadFactory(client=client, **lead_fields)
    return ScheduledTouchFactory(lead=lead, client=client, channel=channel, scheduled_at=at)


def reloaded(touch):
    return ScheduledTouch.objects.get(pk=touch.pk)


# --- sending -------------------------------------------------------------------------------------


def test_a_touch_hours_late_is_still_sent_once_with_its_activity_linked():
    touch = due_touch(first_name="Priya", at=NOW - timedelta(hours=5))

    counts = dispatch_due_touches(now=NOW)

    assert counts["sent"] == 1
    [message] = mail.outbox
    assert message.to == [touch.lead.email] and message.subject == "Hi Priya"
    touch = reloaded(touch)
    assert (touch.status, touch.attempts, touch.claimed_at) == ("sent", 1, NOW)
    assert touch.activity.action == "email_sent"
    assert (touch.activity.sequence_id, touch.activity.touch_number) == (touch.sequence_id, 1)

    again = dispatch_due_touches(now=NOW + timedelta(minutes=1))

    assert again["sent"] == 0 and len(mail.outbox) == 1
    assert Activity.objects.count() == 1


def test_a_touch_not_yet_due_waits():
    touch = due_touch(at=NOW + timedelta(minutes=1))

    assert dispatch_due_touches(now=NOW)["sent"] == 0
    assert reloaded(touch).status == "planned" and not mail.outbox


def test_the_limit_caps_a_run_and_the_oldest_go_first():
    client = ClientFactory()
    touches = [due_touch(client=client, at=NOW - timedelta(minutes=m)) for m in (10, 30, 20)]

    counts = dispatch_due_touches(now=NOW, limit=2)

    assert counts["sent"] == 2
    assert [reloaded(t).status for t in touches] == ["planned", "sent", "sent"]


def test_a_linkedin_touch_with_the_manual_backend_waits_for_a_person():
    touch = due_touch(channel="linkedin")

    counts = dispatch_due_touches(now=NOW)

    assert counts["waiting"] == 1
    assert reloaded(touch).status == "waiting"
    task = ManualTask.objects.get(scheduled_touch=touch)
    assert task.status == "open" and task.kind == "linkedin"
    assert not Activity.objects.exists()


# --- contact hours and daily limits ------------------------------------------------------------------


def test_an_sms_due_at_20_58_whose_worker_runs_at_21_05_waits_for_the_next_legal_morning():
    due = datetime(2026, 3, 4, 20, 58, tzinfo=SYDNEY)
    touch = due_touch(channel="sms", at=due)

    counts = dispatch_due_touches(now=datetime(2026, 3, 4, 21, 5, tzinfo=SYDNEY))

    assert counts["deferred"] == 1 and counts["sent"] == 0
    assert not RecordingSmsProvider.outbox
    touch = reloaded(touch)
    # Australian rules: 9:00 to 20:00 on weekdays; Thursday is the next allowed morning.
    assert (touch.status, touch.reason, touch.attempts) == ("planned", "quiet_hours", 0)
    assert touch.scheduled_at == datetime(2026, 3, 5, 9, 0, tzinfo=SYDNEY)

    assert dispatch_due_touches(now=datetime(2026, 3, 5, 8, 59, tzinfo=SYDNEY))["sent"] == 0
    assert dispatch_due_touches(now=datetime(2026, 3, 5, 9, 0, tzinfo=SYDNEY))["sent"] == 1
    assert len(RecordingSmsProvider.outbox) == 1


def test_a_us_sms_due_at_20_58_whose_worker_runs_at_21_05_is_not_sent_that_evening():
    new_york = ZoneInfo("America/New_York")
    touch = due_touch(
        channel="sms",
        at=datetime(2026, 3, 4, 20, 58, tzinfo=new_york),
        country="United States",
        timezone="America/New_York",
        phone="+12125551234",
    )

    assert dispatch_due_touches(now=datetime(2026, 3, 4, 20, 59, tzinfo=new_york) + timedelta(minutes=6))["sent"] == 0

    assert not RecordingSmsProvider.outbox
    # TCPA: 8:00 to 21:00 local, every day.
    assert reloaded(touch).scheduled_at == datetime(2026, 3, 5, 8, 0, tzinfo=new_york)


def test_an_sms_late_but_still_inside_contact_hours_goes():
    touch = due_touch(channel="sms", at=datetime(2026, 3, 4, 9, 0, tzinfo=SYDNEY))

    assert dispatch_due_touches(now=datetime(2026, 3, 4, 19, 59, tzinfo=SYDNEY))["sent"] == 1
    assert reloaded(touch).status == "sent"


def test_a_friday_evening_call_moves_past_the_weekend_and_an_email_does_not_wait():
    friday_evening = datetime(2026, 3, 6, 20, 30, tzinfo=SYDNEY)
    call = due_touch(channel="voice", at=friday_evening - timedelta(hours=1))
    email = due_touch(at=friday_evening - timedelta(hours=1))

    counts = dispatch_due_touches(now=friday_evening)

    assert (counts["deferred"], counts["sent"]) == (1, 1)
    assert reloaded(email).status == "sent"
    # Saturday allows 9:00 to 17:00 in Australia.
    assert reloaded(call).scheduled_at == datetime(2026, 3, 7, 9, 0, tzinfo=SYDNEY)


def test_the_surplus_over_the_daily_limit_moves_to_the_next_day_and_is_never_dropped():
    client = ClientFactory(daily_email_limit=3)
    # Sent earlier today (Sydney), on this channel: counts against today's limit; yesterday's does not.
    ActivityFactory(lead=LeadFactory(client=client), created_at=NOW - timedelta(hours=1))
    ActivityFactory(lead=LeadFactory(client=client), created_at=NOW - timedelta(days=1))
    touches = [due_touch(client=client, at=NOW - timedelta(minutes=m)) for m in (40, 30, 20, 10)]

    counts = dispatch_due_touches(now=NOW)

    assert (counts["sent"], counts["deferred"]) == (2, 2)
    waiting = [reloaded(t) for t in touches[2:]]
    assert all(t.status == "planned" and t.reason == "daily_limit" for t in waiting)
    # The same local time of day, on the next day.
    assert [t.scheduled_at for t in waiting] == [t.scheduled_at + timedelta(days=1) for t in touches[2:]]

    assert dispatch_due_touches(now=NOW + timedelta(hours=2))["sent"] == 0
    tomorrow = dispatch_due_touches(now=NOW + timedelta(days=1))
    assert tomorrow["sent"] == 2
    assert len(mail.outbox) == 4


def test_the_daily_limit_is_per_channel():
    client = ClientFactory(daily_email_limit=1, daily_sms_limit=5)
    for _ in range(2):
        due_touch(client=client)
        due_touch(client=client, channel="sms")

    counts = dispatch_due_touches(now=NOW)

    assert (counts["sent"], counts["deferred"]) == (3, 1)
    assert len(mail.outbox) == 1 and len(RecordingSmsProvider.outbox) == 2


@pytest.mark.parametrize("threads", [1, 2])
def test_each_sending_thread_opens_one_email_connection_for_all_its_touches(monkeypatch, threads):
    from anymail.backends.test import EmailBackend

    client = ClientFactory()
    for _ in range(6):
        due_touch(client=client)
    opened, closed = [], []
    real_open, real_close = EmailBackend.open, EmailBackend.close
    monkeypatch.setattr(EmailBackend, "open", lambda self: opened.append(id(self)) or real_open(self))
    monkeypatch.setattr(EmailBackend, "close", lambda self: closed.append(id(self)) or real_close(self))

    assert dispatch_due_touches(now=NOW, threads=threads)["sent"] == 6
    assert 1 <= len(set(opened)) <= threads and len(mail.outbox) == 6
    assert set(closed) == set(opened)


# --- outcomes --------------------------------------------------------------------------------------


def test_a_number_the_provider_says_opted_out_blocks_the_touch_and_stops_its_other_texts(monkeypatch):
    touch = due_touch(channel="sms")
    later = ScheduledTouchFactory(
        lead=touch.lead, client=touch.client, channel="sms", touch_number=2, scheduled_at=NOW + timedelta(days=3)
    )

    def opted_out(self, *, to, from_, body):
        raise SmsOptedOut("21610: attempt to send to unsubscribed recipient", code=21610)

    monkeypatch.setattr(RecordingSmsProvider, "send", opted_out)

    counts = dispatch_due_touches(now=NOW)

    assert (counts["blocked"], counts["sent"]) == (1, 0)
    assert (reloaded(touch).status, reloaded(touch).reason) == ("blocked", "sms_opted_out")
    assert Lead.objects.get(pk=touch.lead_id).sms_opted_out
    assert reloaded(later).status == "cancelled"


def test_a_lead_who_opted_out_since_planning_is_blocked_without_a_send():
    touch = due_touch()
    Lead.objects.filter(pk=touch.lead_id).update(email_opted_out=True)  # no signal: the dispatcher still checks

    counts = dispatch_due_touches(now=NOW)

    assert counts["blocked"] == 1 and not mail.outbox
    assert (reloaded(touch).status, reloaded(touch).reason) == ("blocked", "email_opted_out")


def test_a_lead_who_replied_is_blocked_even_when_the_change_lands_after_the_claim(monkeypatch):
    touch = due_touch()
    claim = dispatcher._claim_batch

    def claim_then_reply(*args, **kwargs):
        claimed = claim(*args, **kwargs)
        Lead.objects.filter(pk=touch.lead_id).update(status="replied")
        return claimed

    monkeypatch.setattr(dispatcher, "_claim_batch", claim_then_reply)

    counts = dispatch_due_touches(now=NOW)

    assert counts["blocked"] == 1 and not mail.outbox
    assert (reloaded(touch).status, reloaded(touch).reason) == ("blocked", "lead_replied")


def test_a_placeholder_with_no_data_blocks_the_touch_and_it_is_not_retried():
    touch = due_touch(first_name="")

    counts = dispatch_due_touches(now=NOW)

    assert counts["blocked"] == 1 and not mail.outbox
    touch = reloaded(touch)
    assert (touch.status, touch.reason, touch.attempts) == ("blocked", "missing_field:first_name", 1)
    assert dispatch_due_touches(now=NOW + timedelta(days=1))["blocked"] == 0


def test_a_provider_failing_before_it_accepts_is_retried_with_backoff_then_failed(postmark):
    touch = due_touch()
    postmark.responses = [http_response(503, {"ErrorCode": 100, "Message": "down"})] * MAX_ATTEMPTS
    at = NOW
    for attempt in range(1, MAX_ATTEMPTS):
        counts = dispatch_due_touches(now=at)
        assert counts["retried"] == 1
        touch = reloaded(touch)
        assert (touch.status, touch.attempts, touch.claimed_at) == ("planned", attempt, None)
        assert touch.scheduled_at == at + retry_delay(attempt)
        assert "503" in touch.last_error
        assert dispatch_due_touches(now=touch.scheduled_at - timedelta(seconds=1))["retried"] == 0
        at = touch.scheduled_at

    counts = dispatch_due_touches(now=at)

    assert counts["failed"] == 1
    touch = reloaded(touch)
    assert (touch.status, touch.attempts, touch.reason) == ("failed", MAX_ATTEMPTS, "provider_error")
    assert len(postmark.calls) == MAX_ATTEMPTS
    assert not Activity.objects.exists()


def test_backoff_doubles():
    assert [retry_delay(n) for n in (1, 2, 3, 4)] == [timedelta(minutes=m) for m in (5, 10, 20, 40)]


def test_a_refusal_that_cannot_succeed_fails_at_once(postmark):
    touch = due_touch()
    postmark.responses = [http_response(422, {"ErrorCode": 300, "Message": "Invalid email request"})]

    counts = dispatch_due_touches(now=NOW)

    assert counts["failed"] == 1
    touch = reloaded(touch)
    assert (touch.status, touch.attempts) == ("failed", 1)
    assert "422" in touch.last_error
    assert dispatch_due_touches(now=NOW + timedelta(days=1))["sent"] == 0
    assert len(postmark.calls) == 1


def test_when_a_batch_cannot_be_recorded_together_each_send_is_recorded_alone(monkeypatch, caplog):
    """One touch cancelled while its email was on its way makes the batch's transaction fail: the others are
    still recorded, and the one the database refused is logged with its message id, never sent again."""
    client = ClientFactory()
    kept, cancelled = due_touch(client=client), due_touch(client=client)
    record = dispatcher.Recorder.record

    def cancel_then_record(self, accepted):
        ScheduledTouch.objects.filter(pk=cancelled.pk).update(status="cancelled")
        return record(self, accepted)

    monkeypatch.setattr(dispatcher.Recorder, "record", cancel_then_record)

    with caplog.at_level(logging.ERROR):
        counts = dispatch_due_touches(now=NOW)

    assert (counts["sent"], counts["review"]) == (1, 1)
    assert reloaded(kept).status == "sent" and reloaded(kept).activity_id is not None
    assert reloaded(cancelled).status == "cancelled"
    assert list(Activity.objects.values_list("lead_id", flat=True)) == [kept.lead_id]
    [unrecorded] = [m for m in mail.outbox if m.to == [cancelled.lead.email]]
    assert str(unrecorded.anymail_status.message_id) in caplog.text
    assert dispatch_due_touches(now=NOW + timedelta(hours=1))["sent"] == 0
    assert len(mail.outbox) == 2


@pytest.mark.django_db(transaction=True)
def test_sends_that_cannot_be_recorded_at_all_stay_claimed_for_the_reconciler(monkeypatch):
    """The database gone while recording (on PostgreSQL in the recorder's thread): nothing is resent, and the
    claims stay `sending`, so after the claim timeout they go to review."""
    touches = [due_touch() for _ in range(3)]

    def database_gone(accepted):
        raise DatabaseError("server closed the connection unexpectedly")

    monkeypatch.setattr(dispatcher, "record_accepted", database_gone)

    counts = dispatch_due_touches(now=NOW)

    assert (counts["unsettled"], counts["sent"]) == (3, 0)
    assert {reloaded(t).status for t in touches} == {"sending"}
    monkeypatch.undo()
    later = dispatch_due_touches(now=NOW + dispatcher.CLAIM_TIMEOUT + timedelta(minutes=1))
    assert (later["reconciled_review"], later["sent"]) == (3, 0)
    assert len(mail.outbox) == 3


def test_a_send_the_provider_accepted_but_the_database_did_not_record_goes_to_review(postmark, monkeypatch, caplog):
    touch = due_touch()
    postmark.responses = [postmark_accepts("pm-accepted-42")]

    def lost_connection(rows, *args, **kwargs):
        raise DatabaseError("server closed the connection unexpectedly")

    monkeypatch.setattr(recording, "insert_objects", lost_connection)

    with caplog.at_level(logging.ERROR):
        counts = dispatch_due_touches(now=NOW)

    assert counts["review"] == 1
    touch = reloaded(touch)
    assert touch.status == "review"
    assert "pm-accepted-42" in touch.last_error
    assert "pm-accepted-42" in caplog.text
    monkeypatch.undo()
    assert dispatch_due_touches(now=NOW + timedelta(hours=1))["sent"] == 0
    assert len(postmark.calls) == 1  # never sent again


@pytest.mark.parametrize("where", ["preparing", "sending"])
def test_an_unexpected_error_goes_to_review_not_to_a_retry(monkeypatch, where):
    touch = due_touch()

    def broken(*args, **kwargs):
        raise RuntimeError("bug")

    if where == "preparing":
        monkeypatch.setattr(dispatcher.outbox, "prepare_touch", broken)
    else:
        monkeypatch.setattr(dispatcher.SendPool, "senders", broken)

    assert dispatch_due_touches(now=NOW)["review"] == 1
    assert (reloaded(touch).status, reloaded(touch).reason) == ("review", "unexpected_error")
    assert not mail.outbox and not Activity.objects.exists()


# --- crash safety -----------------------------------------------------------------------------------


def claimed_by_a_dead_worker(touch, *, ago):
    ScheduledTouch.objects.filter(pk=touch.pk).update(status="sending", claimed_at=NOW - ago, attempts=1)


def test_a_claim_left_by_a_killed_worker_is_not_resent_but_left_for_a_person():
    touch = due_touch()
    claimed_by_a_dead_worker(touch, ago=CLAIM_TIMEOUT + timedelta(minutes=1))

    counts = dispatch_due_touches(now=NOW)

    assert counts["reconciled_review"] == 1 and counts["sent"] == 0
    assert not mail.outbox
    touch = reloaded(touch)
    assert (touch.status, touch.reason) == ("review", "claim_expired")
    assert "check the provider" in touch.last_error


def test_a_claim_whose_send_was_recorded_is_reconciled_as_sent():
    touch = due_touch()
    claimed_by_a_dead_worker(touch, ago=CLAIM_TIMEOUT + timedelta(minutes=1))
    activity = ActivityFactory(
        lead=touch.lead, sequence_id=touch.sequence_id, touch_number=touch.touch_number, created_at=NOW
    )

    counts = dispatch_due_touches(now=NOW)

    assert counts["reconciled_sent"] == 1
    touch = reloaded(touch)
    assert (touch.status, touch.activity_id) == ("sent", activity.pk)
    assert not mail.outbox


def test_a_recent_claim_is_left_to_its_worker():
    touch = due_touch()
    claimed_by_a_dead_worker(touch, ago=CLAIM_TIMEOUT - timedelta(minutes=1))

    counts = dispatch_due_touches(now=NOW)

    assert counts["reconciled_review"] == 0
    assert reloaded(touch).status == "sending" and not mail.outbox


# --- claiming -----------------------------------------------------------------------------------------


def test_a_duplicated_dispatch_task_sends_each_touch_once():
    touches = [due_touch() for _ in range(3)]

    first = tasks.dispatch_touches()
    second = tasks.dispatch_touches()

    assert (first["sent"], second["sent"]) == (3, 0)
    assert len(mail.outbox) == 3
    assert {reloaded(t).status for t in touches} == {"sent"}


def test_a_touch_claimed_elsewhere_is_not_delivered_again(monkeypatch):
    touch = due_touch()
    real = dispatcher._apply

    def another_dispatcher_claims_first(decisions, now, counts, *, conditional):
        ScheduledTouch.objects.filter(pk=touch.pk).update(status="sending", claimed_at=now)
        return real(decisions, now, counts, conditional=True)

    monkeypatch.setattr(dispatcher, "_apply", another_dispatcher_claims_first)

    assert dispatch_due_touches(now=NOW)["sent"] == 0
    assert not mail.outbox


def test_the_preview_says_what_would_go_and_why_others_wait():
    client = ClientFactory(daily_email_limit=1)
    first, second = due_touch(client=client), due_touch(client=client)
    evening_sms = due_touch(channel="sms", client=client)
    opted_out = due_touch(client=ClientFactory(), do_not_contact=True)
    evening = datetime(2026, 3, 4, 21, 5, tzinfo=SYDNEY)

    decisions = {d.touch.pk: d for d in preview_due_touches(now=evening)}

    assert decisions[first.pk].action == "send"
    assert (decisions[second.pk].action, decisions[second.pk].reason) == ("defer", "daily_limit")
    assert (decisions[evening_sms.pk].action, decisions[evening_sms.pk].reason) == ("defer", "quiet_hours")
    assert decisions[evening_sms.pk].at == datetime(2026, 3, 5, 9, 0, tzinfo=SYDNEY)
    assert (decisions[opted_out.pk].action, decisions[opted_out.pk].reason) == ("block", "do_not_contact")
    assert set(ScheduledTouch.objects.values_list("status", flat=True)) == {"planned"}
    assert not mail.outbox


# --- concurrency (real transactions, separate connections) ------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_one_due_touch_dispatched_by_two_threads_at_once_is_sent_once(monkeypatch):
    touch = due_touch()
    start = threading.Barrier(2)
    prepare = dispatcher.outbox.prepare_touch
    calls = []

    def counted_prepare(claimed, **kwargs):
        calls.append(claimed.pk)
        return prepare(claimed, **kwargs)

    monkeypatch.setattr(dispatcher.outbox, "prepare_touch", counted_prepare)
    results = []

    def run():
        try:
            start.wait()
            results.append(dispatch_due_touches(now=NOW, threads=1))
        finally:
            connection.close()

    workers = [threading.Thread(target=run) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert sorted(r["sent"] for r in results) == [0, 1]
    assert calls == [touch.pk]
    assert len(mail.outbox) == 1
    assert Activity.objects.count() == 1
    assert reloaded(touch).status == "sent"


@pytest.mark.django_db(transaction=True)
def test_a_run_on_several_threads_sends_every_touch_once():
    client = ClientFactory(daily_email_limit=1000, daily_sms_limit=1000)
    touches = [due_touch(client=client, channel="sms" if i % 3 == 0 else "email") for i in range(40)]

    counts = dispatch_due_touches(now=NOW, threads=4, batch_size=7)

    assert counts["sent"] == 40
    assert len(mail.outbox) + len(RecordingSmsProvider.outbox) == 40
    assert Activity.objects.count() == 40
    assert {reloaded(t).status for t in touches} == {"sent"}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("refused", ["dispatch-send", "dispatch-record"])
def test_sending_threads_never_touch_the_database_and_a_recorder_that_cannot_connect_is_replaced(monkeypatch, refused):
    """Provider calls run on the pool's threads and never read or write rows. On PostgreSQL the accepted sends
    are recorded on a thread of the run's own; when that thread cannot connect (the database at its connection
    limit), the run records them itself."""
    from django.db.backends.base.base import BaseDatabaseWrapper

    client = ClientFactory(daily_email_limit=1000, daily_sms_limit=1000)
    touches = [due_touch(client=client, channel="sms" if i % 2 else "email") for i in range(12)]
    real = BaseDatabaseWrapper.ensure_connection
    refusals = []

    def refuse_some_threads(self):
        if threading.current_thread().name.startswith(refused):
            refusals.append(threading.current_thread().name)
            raise DatabaseError("sorry, too many clients already")
        return real(self)

    monkeypatch.setattr(BaseDatabaseWrapper, "ensure_connection", refuse_some_threads)

    counts = dispatch_due_touches(now=NOW, threads=3)

    if refused == "dispatch-send" or connection.vendor != "postgresql":
        assert refusals == []
    else:
        assert refusals == ["dispatch-record"]
    assert counts["sent"] == 12 and counts["unsettled"] == 0
    assert {reloaded(t).status for t in touches} == {"sent"}
    assert len(mail.outbox) + len(RecordingSmsProvider.outbox) == 12


# --- never the same text twice -------------------------------------------------------------------


@pytest.mark.parametrize("threads", [1, 4])
def test_two_steps_of_one_lead_in_one_batch_never_say_the_same_text(threads):
    """Steps 2 and 3 both fall back to the lower templates: the batch remembers what its earlier step said."""
    first = due_touch(channel="sms", at=NOW - timedelta(hours=2))
    MessageTemplateFactory(client=first.client, channel="sms", touch_number=2, body="Second text")
    ScheduledTouch.objects.filter(pk=first.pk).update(touch_number=2)
    later, last = (
        ScheduledTouchFactory(
            lead=first.lead,
            client=first.client,
            enrollment=first.enrollment,
            channel="sms",
            touch_number=number,
            scheduled_at=NOW - timedelta(minutes=minutes),
        )  # fmt: skip
        for number, minutes in ((3, 60), (4, 30))
    )

    counts = dispatch_due_touches(now=NOW, threads=threads)

    texts = [message["body"] for message in RecordingSmsProvider.outbox]  # in the order the threads finished
    assert len(texts) == 2 and len(set(texts)) == 2 and "Second text" in texts
    assert "Second text" in reloaded(first).activity.content_snapshot["body"]  # the earlier step said it
    assert (counts["sent"], counts["blocked"]) == (2, 1)
    assert (reloaded(later).status, reloaded(last).status, reloaded(last).reason) == (
        "sent",
        "blocked",
        "text_already_sent",
    )


@pytest.mark.parametrize("threads", [1, 4])
def test_steps_of_one_lead_in_successive_batches_never_say_the_same_text(threads, monkeypatch):
    """One touch a batch: a batch is prepared and started before the one before it is settled and recorded, so
    the run itself remembers what it gave each lead."""
    first = due_touch(channel="sms", at=NOW - timedelta(hours=2))
    later = ScheduledTouchFactory(
        lead=first.lead,
        client=first.client,
        enrollment=first.enrollment,
        channel="sms",
        touch_number=2,
        scheduled_at=NOW - timedelta(hours=1),
    )
    settled_when: list[tuple[int, int]] = []  # (batches started, batch settled)
    started: list[object] = []
    real_deliver, real_settle = dispatcher.deliver_batch, dispatcher.settle_batch

    def deliver(*args, **kwargs):
        batch = real_deliver(*args, **kwargs)
        started.append(batch)
        return batch

    def settle(batch, **kwargs):
        settled_when.append((len(started), started.index(batch) + 1))
        return real_settle(batch, **kwargs)

    monkeypatch.setattr(dispatcher, "deliver_batch", deliver)
    monkeypatch.setattr(dispatcher, "settle_batch", settle)

    counts = dispatch_due_touches(now=NOW, threads=threads, batch_size=1)

    assert settled_when[0] == (2, 1)  # the first batch was settled once the second had started
    assert len(RecordingSmsProvider.outbox) == 1
    assert (counts["sent"], counts["blocked"]) == (1, 1)
    assert (reloaded(first).status, reloaded(later).status, reloaded(later).reason) == (
        "sent",
        "blocked",
        "text_already_sent",
    )
