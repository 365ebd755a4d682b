"""Storing a row once: insert_once and the tracking webhooks' one-statement path, on both databases."""

import uuid
from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from engines.db.once import EventWritten, insert_message_event, insert_once
from outreach.models import Activity, Lead
from tests.factories import ActivityFactory, LeadFactory, ScheduledTouchFactory

pytestmark = pytest.mark.django_db


def outcome(lead, event_id, **fields):
    return Activity(
        **{"client_id": lead.client_id, "lead": lead, "action": "email_opened", "channel": "email",
           "provider": "postmark", "provider_event_id": event_id, **fields},
    )  # fmt: skip


def test_a_row_is_written_once_and_a_second_with_its_unique_key_is_skipped_without_an_error():
    lead = LeadFactory()
    first = outcome(lead, "e-1", metadata={"n": 1})
    with transaction.atomic():  # no savepoint needed: the skipped row raises nothing
        assert insert_once(first) is True
        assert insert_once(outcome(lead, "e-1", metadata={"n": 2})) is False
        assert insert_once(outcome(lead, "e-2")) is True
    assert (first._state.adding, first._state.db) == (False, "default")
    assert Activity.objects.get(provider_event_id="e-1").metadata == {"n": 1}
    assert Activity.objects.filter(lead=lead).count() == 2


def test_a_row_a_check_constraint_refuses_is_refused_on_postgresql_and_skipped_on_sqlite():
    lead = LeadFactory()
    wrong = outcome(lead, "e-3", channel="sms")
    if connection.vendor == "postgresql":
        with pytest.raises(IntegrityError), transaction.atomic():
            insert_once(wrong)
    else:  # INSERT OR IGNORE skips it: the caller tells this from a replay (record_outcome looks the event up)
        assert insert_once(wrong) is False
    assert not Activity.objects.filter(lead=lead).exists()


def sent(message_id="pm-1", **fields):
    return ActivityFactory(
        action="email_sent", channel="email", provider_message_id=message_id, touch_number=2,
        created_at=timezone.now() - timedelta(hours=1), **fields,
    )  # fmt: skip


def event(event_id="ev-1", *, message_id="pm-1", **overrides):
    fields = {
        "message_id": message_id, "sent_action": "email_sent", "action": "email_opened", "provider": "postmark",
        "event_id": event_id, "at": timezone.now(), "metadata": {"ip": "10.0.0.1", "text": "a\\b\t'c'"},
        "lead_updates": {}, "cancels": False, "channels": None,
    }  # fmt: skip
    return insert_message_event(**{**fields, **overrides})


def test_an_event_is_stored_against_the_first_message_with_its_id_and_copies_what_the_touch_is():
    message = sent()
    sent("pm-1", lead=message.lead)  # a later row with the same message id: the first is the one answered
    written = event()
    assert written == EventWritten(message.lead_id, False, False)
    stored = Activity.objects.get(provider="postmark", provider_event_id="ev-1")
    assert (stored.in_reply_to_id, stored.sequence_id, stored.touch_number) == (
        message.pk,
        message.sequence_id,
        2,
    )
    assert (stored.client_id, stored.lead_id, stored.channel, stored.action) == (
        message.client_id,
        message.lead_id,
        "email",
        "email_opened",
    )
    assert stored.metadata == {"ip": "10.0.0.1", "text": "a\\b\t'c'"} and stored.content_snapshot == {}
    assert isinstance(stored.pk, uuid.UUID)


def test_a_replay_writes_nothing_and_an_unknown_message_is_told_apart():
    sent()
    assert event().lead_id is not None
    assert event() == EventWritten(None, True, False)
    assert event("ev-2", message_id="pm-unknown") == EventWritten(None, False, False)
    assert event("ev-3", sent_action="sms_sent").lead_id is None  # only messages sent on the event's channel
    assert Activity.objects.filter(provider="postmark").count() == 1


def test_the_leads_columns_are_set_on_first_storage_only():
    message = sent()
    assert event(action="email_bounced", lead_updates={"has_bounced": True}).lead_id == message.lead_id
    assert Lead.objects.get(pk=message.lead_id).has_bounced
    Lead.objects.filter(pk=message.lead_id).update(has_bounced=False)
    assert event(action="email_bounced", lead_updates={"has_bounced": True}).replay
    assert not Lead.objects.get(pk=message.lead_id).has_bounced


def test_a_lead_with_unsent_touches_on_the_channels_is_said_to_have_some_to_cancel():
    message = sent()
    ScheduledTouchFactory(lead=message.lead, client=message.client, channel="email", status="planned")
    written = event(action="email_bounced", cancels=True, channels=["email"])
    assert written == EventWritten(message.lead_id, False, True)
    assert event("ev-2", cancels=False).open_touches is False


def test_postgresql_tells_a_lead_without_unsent_touches_in_the_same_round_trip(django_assert_num_queries):
    message = sent()
    ScheduledTouchFactory(lead=message.lead, client=message.client, channel="sms", status="planned")
    postgresql = connection.vendor == "postgresql"
    with django_assert_num_queries(1 if postgresql else 2):  # SQLite sets the lead's column with a second
        written = event(action="email_bounced", lead_updates={"has_bounced": True}, cancels=True, channels=["email"])
    assert written.lead_id == message.lead_id
    assert written.open_touches is not postgresql  # SQLite cannot tell: the caller looks
