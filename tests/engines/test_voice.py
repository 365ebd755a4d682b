import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from engines.exceptions import InvalidTouch, SendBlocked
from engines.rules.compliance import channel_block_reason
from engines.services.sending.voice import CALL_OUTCOMES, complete_call
from outreach.models import Activity, Lead, ScheduledTouch
from tests.factories import ClientFactory, LeadFactory, ScheduledTouchFactory

pytestmark = pytest.mark.django_db

PERTH = ZoneInfo("Australia/Perth")
NOW = datetime(2026, 3, 4, 15, 45, tzinfo=PERTH)


def test_records_a_completed_call_with_its_script_outcome_and_duration():
    lead = LeadFactory(timezone="Australia/Perth")
    script = "Introduce yourself, ask about their pipeline and how many hours go into manual follow-up."
    sequence_id = uuid.uuid4()

    activity = complete_call(
        lead,
        lead.client,
        script_id="s-12",
        script_content=script,
        outcome="voicemail",
        duration_seconds=47,
        notes="Left a message",
        touch_number=4,
        sequence_id=sequence_id,
        now=NOW,
    )

    activity.refresh_from_db()
    assert (activity.action, activity.channel, activity.touch_number, activity.sequence_id) == (
        "voice_completed",
        "voice",
        4,
        sequence_id,
    )
    assert activity.led_to_booking is False
    assert activity.metadata == {
        "outcome": "voicemail",
        "duration_seconds": 47,
        "script_id": "s-12",
        "touch_number": 4,
        "sequence_id": str(sequence_id),
    }
    snapshot = activity.content_snapshot
    assert (snapshot["script_id"], snapshot["script_content"], snapshot["notes"]) == ("s-12", script, "Left a message")
    assert (snapshot["outcome"], snapshot["duration_seconds"], snapshot["duration_minutes"]) == ("voicemail", 47, 0.8)
    assert snapshot["pain_points_used"] == ["leads", "time"]
    assert snapshot["completed_at"] == snapshot["sent_at"] == "2026-03-04T07:45:00+00:00"
    assert (snapshot["channel"], snapshot["day_of_week"], snapshot["hour_of_day"]) == ("voice", "Wednesday", 15)

    lead.refresh_from_db()
    assert (lead.touch_count, lead.status, lead.last_contacted_at) == (1, "in_sequence", NOW)


def test_a_booked_meeting_converts_the_lead():
    lead = LeadFactory()

    activity = complete_call(lead, lead.client, outcome="meeting_booked", duration_seconds=300, now=NOW)

    assert Activity.objects.get(pk=activity.pk).led_to_booking is True
    lead = Lead.objects.get(pk=lead.pk)
    assert (lead.status, lead.converted_at, lead.touch_count) == ("converted", NOW, 1)


def test_a_later_call_keeps_the_first_conversion_time():
    lead = LeadFactory()
    complete_call(lead, lead.client, outcome="meeting_booked", now=NOW)
    later = datetime(2026, 3, 11, 10, 0, tzinfo=PERTH)

    complete_call(lead, lead.client, outcome="meeting_booked", now=later)
    complete_call(lead, lead.client, outcome="connected", now=later)

    lead = Lead.objects.get(pk=lead.pk)
    assert (lead.status, lead.converted_at, lead.touch_count) == ("converted", NOW, 3)


@pytest.mark.parametrize("outcome", CALL_OUTCOMES)
def test_every_outcome_is_recorded(outcome):
    lead = LeadFactory()
    activity = complete_call(lead, lead.client, outcome=outcome, now=NOW)
    assert activity.content_snapshot["outcome"] == activity.metadata["outcome"] == outcome
    assert activity.led_to_booking is (outcome == "meeting_booked")


def test_a_call_without_a_script_has_empty_features():
    lead = LeadFactory()
    snapshot = complete_call(lead, lead.client, now=NOW).content_snapshot
    assert (snapshot["script_content"], snapshot["body"], snapshot["pain_points_used"], snapshot["word_count"]) == (
        None,
        "",
        [],
        0,
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"outcome": "hung_up"},
        {"outcome": None},
        {"duration_seconds": -1},
        {"duration_seconds": float("nan")},
        {"duration_seconds": "60"},
        {"touch_number": 0},
        {"sequence_id": "seq-1"},
    ],
)
def test_invalid_calls_are_refused_and_nothing_is_recorded(kwargs):
    lead = LeadFactory()
    with pytest.raises(InvalidTouch):
        complete_call(lead, lead.client, now=NOW, **kwargs)
    assert not Activity.objects.exists()
    assert Lead.objects.get(pk=lead.pk).touch_count == 0


@pytest.mark.parametrize(
    "change", [{"do_not_contact": True}, {"voice_opted_out": True}, {"is_unsubscribed": True}, {"phone": ""}]
)
def test_a_call_that_happened_is_recorded_even_if_the_lead_may_no_longer_be_called(change):
    lead = LeadFactory(**change)

    activity = complete_call(lead, lead.client, outcome="connected", duration_seconds=90, now=NOW)

    assert Activity.objects.get(pk=activity.pk).action == "voice_completed"
    assert Lead.objects.get(pk=lead.pk).touch_count == 1


def test_a_wrong_number_marks_the_phone_unusable_for_sms_and_calls():
    lead = LeadFactory()
    sms = ScheduledTouchFactory(lead=lead, channel="sms", touch_number=2)
    email = ScheduledTouchFactory(lead=lead, channel="email", touch_number=3)

    complete_call(lead, lead.client, outcome="wrong_number", now=NOW)

    assert lead.phone_unusable and Lead.objects.get(pk=lead.pk).phone_unusable
    assert ScheduledTouch.objects.get(pk=sms.pk).status == "cancelled"
    assert ScheduledTouch.objects.get(pk=email.pk).status == "planned"
    assert channel_block_reason(lead, "sms") == channel_block_reason(lead, "voice") == "phone_unusable"


def test_do_not_call_opts_the_lead_out_of_calls_only():
    lead = LeadFactory()
    call = ScheduledTouchFactory(lead=lead, channel="voice", touch_number=2)
    sms = ScheduledTouchFactory(lead=lead, channel="sms", touch_number=3)

    complete_call(lead, lead.client, outcome="do_not_call", now=NOW)

    assert Lead.objects.get(pk=lead.pk).voice_opted_out
    assert ScheduledTouch.objects.get(pk=call.pk).status == "cancelled"
    assert ScheduledTouch.objects.get(pk=sms.pk).status == "planned"


def test_a_call_is_recorded_only_for_the_leads_own_client():
    lead = LeadFactory()
    with pytest.raises(SendBlocked) as raised:
        complete_call(lead, ClientFactory(), now=NOW)
    assert raised.value.reason == "lead_of_another_client"
    assert not Activity.objects.exists()


def test_with_its_touch_the_call_and_the_sent_touch_commit_together():
    touch = ScheduledTouchFactory(channel="voice", status="waiting", touch_number=3)

    activity = complete_call(touch.lead, touch.client, outcome="connected", now=NOW, touch=touch)

    touch.refresh_from_db()
    assert (touch.status, touch.activity_id, activity.touch_number) == ("sent", activity.pk, 3)
