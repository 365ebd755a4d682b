import uuid
from datetime import timedelta
from unittest import mock

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from engines.exceptions import InvalidTouch
from engines.rules.compliance import channel_block_reason
from engines.services.journey import contact
from engines.services.outcomes import events
from outreach.models import Activity, Lead, ScheduledTouch, StopReason
from tests.engines.webhook_support import outcome_rows, sequence
from tests.factories import ActivityFactory, LeadFactory, ScheduledTouchFactory

pytestmark = pytest.mark.django_db


def opened(seq, event_id="evt-1", **overrides):
    fields = {
        "action": "email_opened",
        "provider": "postmark",
        "event_id": event_id,
        "at": timezone.now(),
        "metadata": {},
    }
    return events.record_delivery(seq.sent, **{**fields, **overrides})


def test_an_event_is_stored_once_and_a_replay_returns_the_stored_row():
    seq = sequence()
    first, again = opened(seq), opened(seq)
    assert first.created and not again.created
    assert again.activity.pk == first.activity.pk
    assert len(outcome_rows(seq.lead)) == 1


def test_the_same_event_id_from_another_provider_is_another_event():
    seq = sequence()
    opened(seq)
    assert opened(seq, provider="mailgun").created


def test_a_replay_inside_a_callers_transaction_leaves_the_transaction_usable():
    seq = sequence()
    with transaction.atomic():
        first = opened(seq)
        again = opened(seq)  # refused by the unique constraint, rolled back to its own savepoint
        assert again.activity.pk == first.activity.pk
        assert opened(seq, event_id="evt-2").created  # the transaction still works
    assert len(outcome_rows(seq.lead)) == 2


def test_a_refused_row_that_is_not_a_replay_still_raises():
    seq = sequence()
    with pytest.raises(IntegrityError), transaction.atomic():
        events.record_outcome(
            seq.lead, action="email_opened", channel="sms", provider="x", event_id="e", at=timezone.now()
        )


def test_lead_updates_and_cancellation_happen_only_with_the_first_storage():
    seq = sequence()
    events.record_bounce(seq.sent, hard=True, provider="postmark", event_id="b1", at=timezone.now(), metadata={})
    Lead.objects.filter(pk=seq.lead.pk).update(has_bounced=False)  # a person cleared it since
    events.record_bounce(seq.sent, hard=True, provider="postmark", event_id="b1", at=timezone.now(), metadata={})
    assert not seq.refresh().has_bounced


def test_an_outcome_and_its_cancellation_commit_or_fail_together():
    seq = sequence()
    with mock.patch.object(contact, "cancel_planned_touches", side_effect=RuntimeError("boom")):
        with pytest.raises(RuntimeError):
            events.record_reply(
                seq.lead, channel="email", provider="p", event_id="r1", at=timezone.now(), answers=seq.sent, metadata={}
            )
    assert outcome_rows(seq.lead) == [] and seq.refresh().status == "in_sequence"


def test_event_key_is_deterministic_and_tells_events_apart():
    at = timezone.now()
    assert events.event_key("m1", "opened", at) == events.event_key("m1", "opened", at)
    assert events.event_key("m1", "opened", at) != events.event_key("m1", "delivered", at)
    assert events.event_key("m1", "opened", at) != events.event_key("m1", "opened", at + timedelta(seconds=1))


def test_a_reply_marks_the_lead_replied_and_ends_every_channel():
    seq = sequence()
    events.record_reply(
        seq.lead, channel="email", provider="p", event_id="r1", at=timezone.now(), answers=seq.sent, metadata={}
    )
    assert seq.refresh().status == "replied"
    assert seq.statuses() == ["cancelled", "cancelled"]


def test_an_sms_opt_out_ends_only_sms():
    seq = sequence(channel="sms")
    events.record_opt_out(seq.lead, channel="sms", provider="twilio", event_id="SM1")
    lead = seq.refresh()
    assert lead.sms_opted_out and not lead.is_unsubscribed
    assert seq.statuses() == ["planned", "cancelled"]
    assert channel_block_reason(lead, "sms") == "sms_opted_out" and channel_block_reason(lead, "email") is None


def test_the_unsubscribe_link_stores_one_opt_out_however_often_it_is_used():
    seq = sequence()
    assert events.unsubscribe_lead(seq.lead, source="unsubscribe_link") is not None
    assert events.unsubscribe_lead(seq.lead, source="unsubscribe_link") is None
    assert seq.refresh().is_unsubscribed and len(outcome_rows(seq.lead)) == 1


def test_a_booking_credits_the_preceding_touches_of_the_sequence_and_cancels_the_rest():
    seq = sequence()
    at = timezone.now()
    later = ActivityFactory(
        lead=seq.lead, sequence_id=seq.sent.sequence_id, touch_number=2, created_at=at + timedelta(hours=1)
    )
    booking = events.record_booking(seq.lead, source="admin", at=at)
    assert booking.action == "meeting_booked" and booking.in_reply_to_id == seq.sent.pk
    assert booking.metadata["source"] == "admin" and not booking.led_to_booking
    assert set(Activity.objects.filter(led_to_booking=True).values_list("pk", flat=True)) == {seq.sent.pk}
    later.refresh_from_db()
    assert not later.led_to_booking  # sent after the booking: it did not earn it
    lead = seq.refresh()
    assert lead.status == "converted" and lead.converted_at == at
    assert seq.statuses() == ["cancelled", "cancelled"]


def test_a_second_booking_keeps_the_first_conversion_time():
    seq = sequence()
    first = timezone.now() - timedelta(days=1)
    events.record_booking(seq.lead, source="admin", at=first)
    events.record_booking(seq.lead, source="admin")
    assert seq.refresh().converted_at == first
    assert len(outcome_rows(seq.lead, "meeting_booked")) == 2  # no event id: two bookings are two meetings


def test_a_replayed_booking_event_is_stored_once():
    seq = sequence()
    first = events.record_booking(seq.lead, source="calcom", event_id="uid-1")
    assert events.record_booking(seq.lead, source="calcom", event_id="uid-1").pk == first.pk


def test_a_booking_of_a_lead_never_contacted_credits_nothing():
    lead = LeadFactory()
    booking = events.record_booking(lead, source="admin")
    assert (booking.channel, booking.in_reply_to_id) == ("", None)
    lead.refresh_from_db()
    assert lead.status == "converted"


def test_a_wrong_number_blocks_sms_and_calls_but_not_email():
    lead = LeadFactory()
    touches = [ScheduledTouchFactory(lead=lead, channel=channel, touch_number=n) for n, channel in
               enumerate(["email", "sms", "voice"], start=1)]  # fmt: skip
    contact.apply_call_outcome(lead, outcome="wrong_number")
    lead.refresh_from_db()
    assert lead.phone_unusable
    reasons = [channel_block_reason(lead, channel) for channel in ("email", "sms", "voice")]
    assert reasons == [None, "phone_unusable", "phone_unusable"]
    assert [type(t).objects.get(pk=t.pk).status for t in touches] == ["planned", "cancelled", "cancelled"]


def test_do_not_call_opts_out_of_calls_only():
    lead = LeadFactory()
    contact.apply_call_outcome(lead, outcome="do_not_call")
    lead.refresh_from_db()
    assert lead.voice_opted_out and not lead.sms_opted_out and not lead.phone_unusable


def test_an_sms_status_names_its_own_event():
    seq = sequence(channel="sms", message_id="SM1")
    now = timezone.now()
    events.record_sms_status(seq.sent, status="delivered", error_code="", provider="twilio", at=now, metadata={})
    (row,) = outcome_rows(seq.lead)
    assert row.provider_event_id == "SM1:delivered"


def test_outcomes_of_unrelated_sequences_are_not_linked():
    seq = sequence()
    other = ActivityFactory(lead=seq.lead, sequence_id=uuid.uuid4(), created_at=timezone.now() - timedelta(days=30))
    assert events.last_sent(seq.lead).pk == seq.sent.pk
    assert events.last_sent(seq.lead, before=timezone.now() - timedelta(days=10)).pk == other.pk


# --- The tracking fast path -----------------------------------------------------------------------------------

ROW_FIELDS = [
    field.attname for field in Activity._meta.concrete_fields if field.attname not in ("id", "provider_event_id")
]


def row(activity_id) -> dict:
    return Activity.objects.filter(pk=activity_id).values(*ROW_FIELDS).get()


def test_the_one_statement_fast_path_writes_the_row_record_delivery_writes():
    seq = sequence(message_id="pm-42")
    at = timezone.now() - timedelta(hours=1)
    metadata = {"recipient": "pat@example.com", "click_url": "https://example.com/a?b=1&c='d'"}
    slow = opened(seq, event_id="slow", at=at, metadata=metadata).activity
    stored = events.record_message_event(
        message_id="pm-42", channel="email", action="email_opened", provider="postmark", event_id="fast", at=at,
        metadata=metadata,
    )  # fmt: skip
    assert stored is True
    fast = Activity.objects.get(provider="postmark", provider_event_id="fast")
    assert row(fast.pk) == row(slow.pk)
    assert row(fast.pk)["in_reply_to_id"] == seq.sent.pk and row(fast.pk)["metadata"] == metadata


def test_the_fast_path_tells_a_replay_from_an_unknown_message():
    seq = sequence(message_id="pm-43")
    kwargs = {"channel": "email", "action": "email_delivered", "provider": "postmark", "at": timezone.now()}
    assert events.record_message_event(message_id="pm-43", event_id="d1", metadata={}, **kwargs) is True
    assert events.record_message_event(message_id="pm-43", event_id="d1", metadata={}, **kwargs) is False
    assert events.record_message_event(message_id="pm-nope", event_id="d2", metadata={}, **kwargs) is None
    assert len(outcome_rows(seq.lead)) == 1


def test_the_fast_path_finds_only_messages_sent_on_its_channel():
    sequence(channel="sms", message_id="SM-1")
    kwargs = {"provider": "postmark", "event_id": "x", "at": timezone.now(), "metadata": {}}
    assert events.record_message_event(message_id="SM-1", channel="email", action="email_opened", **kwargs) is None
    with pytest.raises(ValueError):
        events.record_message_event(message_id="SM-1", channel="sms", action="email_opened", **kwargs)


def test_a_reply_on_a_channel_without_replies_is_refused_and_writes_nothing():
    seq = sequence()
    with pytest.raises(InvalidTouch, match="record a call with its outcome"):
        events.record_reply(
            seq.lead, channel="voice", provider="person", event_id="reply-voice", at=timezone.now(),
            answers=seq.sent, metadata={},
        )  # fmt: skip
    assert outcome_rows(seq.lead) == []
    assert seq.statuses() == ["planned", "planned"]


def hard_bounce(message_id, event_id="hb-1", **overrides):
    fields = {
        "message_id": message_id, "channel": "email", "action": "email_bounced", "provider": "postmark",
        "event_id": event_id, "at": timezone.now(), "metadata": {"description": "mailbox unavailable"},
        "stop": StopReason.BOUNCED,
    }  # fmt: skip
    return events.record_message_event(**{**fields, **overrides})


def test_a_hard_bounce_on_the_fast_path_writes_record_bounces_row_marks_the_lead_and_cancels_email_only():
    seq, twin = sequence(message_id="pm-hb"), sequence(message_id="pm-hb-twin")
    at = timezone.now() - timedelta(hours=1)
    slow = events.record_bounce(twin.sent, hard=True, provider="postmark", event_id="slow", at=at, metadata={})
    assert hard_bounce("pm-hb", at=at, metadata={}) is True
    fast = Activity.objects.get(provider="postmark", provider_event_id="hb-1")
    columns = [name for name in ROW_FIELDS if name not in ("lead_id", "client_id", "sequence_id", "in_reply_to_id")]
    assert {k: row(fast.pk)[k] for k in columns} == {k: row(slow.activity.pk)[k] for k in columns}
    assert fast.in_reply_to_id == seq.sent.pk and fast.sequence_id == seq.sent.sequence_id
    assert seq.refresh().has_bounced
    assert seq.statuses() == ["cancelled", "planned"] == twin.statuses()


def test_a_replayed_hard_bounce_changes_nothing_on_the_fast_path():
    seq = sequence(message_id="pm-hb2")
    assert hard_bounce("pm-hb2") is True
    Lead.objects.filter(pk=seq.lead.pk).update(has_bounced=False)  # a person cleared it since
    assert hard_bounce("pm-hb2") is False
    assert not seq.refresh().has_bounced
    assert hard_bounce("pm-nobody", event_id="hb-2") is None
    assert len(outcome_rows(seq.lead)) == 1


def test_a_fast_path_bounce_and_its_cancellation_commit_or_fail_together():
    seq = sequence(message_id="pm-hb3")
    with mock.patch.object(events, "cancel_planned_touches", side_effect=RuntimeError("boom")):
        with pytest.raises(RuntimeError):
            hard_bounce("pm-hb3")
    assert outcome_rows(seq.lead) == []
    assert not seq.refresh().has_bounced
    assert seq.statuses() == ["planned", "planned"]


def test_a_hard_bounce_with_nothing_left_to_cancel_on_its_channel_leaves_other_channels_alone():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    seq = sequence(message_id="pm-hb4")
    ScheduledTouch.objects.filter(pk=seq.planned[0].pk).update(status="failed")  # nothing unsent on email
    with CaptureQueriesContext(connection) as queries:
        assert hard_bounce("pm-hb4") is True
    assert seq.refresh().has_bounced
    assert seq.statuses() == ["failed", "planned"]  # the SMS touch stays
    if connection.vendor == "postgresql":  # the event, the lead's flag and the look for open touches: one statement
        assert [query["sql"].split()[0] for query in queries.captured_queries] == ["SAVEPOINT", "WITH", "RELEASE"]


def test_an_event_costs_one_query_and_so_does_a_replay_on_postgresql(django_assert_num_queries):
    from django.db import connection

    sequence(message_id="pm-q")
    kwargs = {"channel": "email", "action": "email_opened", "provider": "postmark", "at": timezone.now()}
    with django_assert_num_queries(1):
        assert events.record_message_event(message_id="pm-q", event_id="q1", metadata={"a": 1}, **kwargs) is True
    with django_assert_num_queries(1 if connection.vendor == "postgresql" else 2):  # SQLite looks the event up
        assert events.record_message_event(message_id="pm-q", event_id="q1", metadata={"a": 1}, **kwargs) is False


@pytest.fixture
def prepared_statements():
    """Let psycopg prepare statements on this connection (settings: DB_PREPARED_STATEMENTS; the test settings
    leave it off), from the first execution. SQLite has nothing to switch."""
    from django.db import connection

    connection.ensure_connection()
    raw = connection.connection
    before = getattr(raw, "prepare_threshold", None)
    if connection.vendor == "postgresql":
        raw.prepare_threshold = 0
    yield connection
    if connection.vendor == "postgresql":
        raw.prepare_threshold = before


def test_prepared_fast_path_statements_store_events_and_tell_replays(prepared_statements):
    seq = sequence(message_id="pm-p")
    kwargs = {"channel": "email", "provider": "postmark", "at": timezone.now(), "metadata": {"n": 1}}
    for number in range(3):  # a prepared statement runs again with new parameters
        assert events.record_message_event(message_id="pm-p", action="email_opened", event_id=f"o{number}", **kwargs)
        assert (
            events.record_message_event(message_id="pm-p", action="email_opened", event_id=f"o{number}", **kwargs)
            is False
        )
    assert hard_bounce("pm-p") is True
    assert events.record_message_event(message_id="pm-none", action="email_opened", event_id="z", **kwargs) is None
    assert sorted(row.provider_event_id for row in outcome_rows(seq.lead)) == ["hb-1", "o0", "o1", "o2"]
    assert seq.refresh().has_bounced
    if prepared_statements.vendor == "postgresql":
        with prepared_statements.cursor() as cursor:
            cursor.execute("SELECT statement FROM pg_prepared_statements")
            prepared = [statement for (statement,) in cursor.fetchall()]
        assert any('written AS (INSERT INTO "outreach_activity"' in statement for statement in prepared)


@pytest.mark.django_db(transaction=True)
def test_the_fast_path_works_again_after_the_database_connection_was_closed():
    from django.db import connection

    seq = sequence(message_id="pm-reconnect")
    kwargs = {"message_id": "pm-reconnect", "channel": "email", "action": "email_opened", "provider": "postmark",
              "at": timezone.now(), "metadata": {}}  # fmt: skip
    assert events.record_message_event(event_id="before", **kwargs) is True
    connection.close()  # its kept cursor goes with it
    assert events.record_message_event(event_id="after", **kwargs) is True
    assert events.record_message_event(event_id="after", **kwargs) is False
    assert sorted(row.provider_event_id for row in outcome_rows(seq.lead)) == ["after", "before"]
