"""Twilio's word on a number, end to end through the real URLs, signed as Twilio signs: opt-out keywords however
spelt and Advanced Opt-Out's OptOutType, delivery errors about the number (on a status callback and at send
time) against the transient ones, and failed calls."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from engines.providers.sms import RecordingSmsProvider, TwilioSmsProvider
from engines.services.sending.dispatcher import dispatch_due_touches
from outreach.models import Activity, Lead, ManualTask, ScheduledTouch
from tests.engines.providers.fakes import ACCOUNT_SID, AUTH_TOKEN, FakeTwilioHttp, twilio_error
from tests.engines.test_webhooks_twilio import call_status, inbound_sms, sms_sequence, sms_status
from tests.engines.webhook_support import TWILIO_TOKEN, outcome_rows, twilio_post
from tests.factories import LeadFactory, MessageTemplateFactory, ScheduledTouchFactory

pytestmark = pytest.mark.django_db

SYDNEY = ZoneInfo("Australia/Sydney")
# A Wednesday morning in Sydney: inside Australian contact hours, so a text may go.
NOW = datetime(2026, 3, 4, 10, 30, tzinfo=SYDNEY)


@pytest.fixture(autouse=True)
def twilio_settings(settings):
    settings.TWILIO_AUTH_TOKEN = TWILIO_TOKEN
    settings.PUBLIC_BASE_URL = "https://outreach.example.com"
    settings.SMS_PROVIDER = "engines.providers.sms.RecordingSmsProvider"
    RecordingSmsProvider.outbox.clear()


def next_sms(lead: Lead) -> ScheduledTouch:
    """A text planned for the lead after what happened, due now: what the dispatcher makes of it."""
    MessageTemplateFactory(client=lead.client, channel="sms", touch_number=7, body="Hi {first_name}")
    return ScheduledTouchFactory.create(
        lead=lead, client=lead.client, channel="sms", touch_number=7, scheduled_at=NOW - timedelta(hours=1)
    )


def dispatched(touch: ScheduledTouch) -> tuple[str, str]:
    dispatch_due_touches(now=NOW)
    touch.refresh_from_db()
    return touch.status, touch.reason


# --- Keywords ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("body", ["STOP STOP", "S.T.O.P", "ＳＴＯＰ", "sтop", "stop.", "S T O P", "Stop, stop!"])
def test_an_opt_out_keyword_however_spelt_opts_out(client, body):
    seq = sms_sequence()
    assert twilio_post(client, "twilio-sms-inbound", inbound_sms(body)).status_code == 200
    lead = seq.refresh()
    assert lead.sms_opted_out and lead.status == "in_sequence"  # an opt-out, not a reply
    assert [row.action for row in outcome_rows(lead)] == ["opted_out"]
    assert ScheduledTouch.objects.get(pk=seq.planned[1].pk).reason == "sms_opted_out"


@pytest.mark.parametrize("body", ["stop by tomorrow?", "Stop by the office at 3"])
def test_a_keyword_inside_other_words_is_a_reply(client, body):
    seq = sms_sequence()
    twilio_post(client, "twilio-sms-inbound", inbound_sms(body))
    lead = seq.refresh()
    assert not lead.sms_opted_out
    assert [row.action for row in outcome_rows(lead)] == ["sms_replied"]


@pytest.mark.parametrize("body", ["ＳＴＡＲＴ", "S.T.A.R.T", "start start"])
def test_start_however_spelt_opts_back_in(client, body):
    seq = sms_sequence()
    Lead.objects.filter(pk=seq.lead.pk).update(sms_opted_out=True)
    twilio_post(client, "twilio-sms-inbound", inbound_sms(body))
    assert not seq.refresh().sms_opted_out


# --- Advanced Opt-Out ----------------------------------------------------------------------------------------


def test_opt_out_type_stop_opts_out_whatever_the_body_says(client):
    seq = sms_sequence()
    twilio_post(client, "twilio-sms-inbound", {**inbound_sms("ALTO"), "OptOutType": "STOP"})
    lead = seq.refresh()
    assert lead.sms_opted_out and lead.status == "in_sequence"
    assert [row.action for row in outcome_rows(lead)] == ["opted_out"]


def test_opt_out_type_start_opts_back_in(client):
    seq = sms_sequence()
    Lead.objects.filter(pk=seq.lead.pk).update(sms_opted_out=True)
    twilio_post(client, "twilio-sms-inbound", {**inbound_sms("ALTA", sid="SM2000"), "OptOutType": "START"})
    assert not seq.refresh().sms_opted_out
    assert [row.action for row in outcome_rows(seq.lead)] == ["opted_in"]


def test_opt_out_type_help_is_recorded_and_left_to_twilio_to_answer(client):
    seq = sms_sequence()
    response = twilio_post(client, "twilio-sms-inbound", {**inbound_sms("AYUDA"), "OptOutType": "HELP"})
    assert [row.action for row in outcome_rows(seq.lead)] == ["sms_help"]
    assert b"<Message>" not in response.content  # Twilio sent the Messaging Service's own HELP answer
    assert seq.refresh().status == "in_sequence"


# --- Delivery errors on a status callback ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "reason", "flag", "calls_stop"),
    [
        ("30005", "phone_unusable", "phone_unusable", True),
        ("21211", "phone_unusable", "phone_unusable", True),
        ("30006", "sms_unsupported", "sms_unsupported", False),
        ("21614", "sms_unsupported", "sms_unsupported", False),
    ],
)
@pytest.mark.parametrize("status", ["undelivered", "failed"])
def test_an_error_about_the_number_stops_the_next_texts(client, code, reason, flag, calls_stop, status):
    seq = sms_sequence()
    call = ScheduledTouchFactory(lead=seq.lead, sequence_id=seq.sent.sequence_id, touch_number=4, channel="voice")
    twilio_post(client, "twilio-sms-status", sms_status(seq.sent.provider_message_id, status, ErrorCode=code))

    lead = seq.refresh()
    assert getattr(lead, flag)
    (row,) = outcome_rows(lead)
    assert (row.action, row.metadata["error_code"]) == ("sms_undelivered", code)
    planned_sms = ScheduledTouch.objects.get(pk=seq.planned[1].pk)
    assert (planned_sms.status, planned_sms.reason) == ("cancelled", reason)
    assert seq.statuses()[0] == "planned"  # the email goes on
    call.refresh_from_db()
    assert (call.status == "cancelled") is calls_stop  # a landline may still be called

    later = next_sms(lead)
    assert dispatched(later) == ("blocked", reason)
    assert RecordingSmsProvider.outbox == []


@pytest.mark.parametrize("code", ["30003", "30008", "30007"])
def test_an_error_about_the_moment_or_the_message_stops_nothing(client, code):
    seq = sms_sequence()
    twilio_post(client, "twilio-sms-status", sms_status(seq.sent.provider_message_id, "undelivered", ErrorCode=code))

    lead = seq.refresh()
    assert not (lead.phone_unusable or lead.sms_unsupported or lead.sms_opted_out)
    assert [row.action for row in outcome_rows(lead)] == ["sms_undelivered"]
    assert seq.statuses() == ["planned", "planned"]
    later = next_sms(lead)
    assert dispatched(later) == ("sent", "")
    assert len(RecordingSmsProvider.outbox) >= 1


# --- Delivery errors at send time ------------------------------------------------------------------------------


def twilio_answers(monkeypatch, *responses):
    """The dispatcher's SMS provider is Twilio's own client, whose HTTP answers are these."""
    provider = TwilioSmsProvider(ACCOUNT_SID, AUTH_TOKEN, http_client=FakeTwilioHttp(responses))
    monkeypatch.setattr(RecordingSmsProvider, "send", lambda self, **message: provider.send(**message))


@pytest.mark.parametrize(
    ("code", "reason", "flag"),
    [(21211, "phone_unusable", "phone_unusable"), (21614, "sms_unsupported", "sms_unsupported")],
)
def test_twilio_refusing_the_number_at_send_time_blocks_the_touch_and_stops_the_next(monkeypatch, code, reason, flag):
    lead = LeadFactory(status="in_sequence")
    touch = next_sms(lead)
    later = ScheduledTouchFactory(
        lead=lead, client=lead.client, channel="sms", touch_number=8, scheduled_at=NOW + timedelta(days=2)
    )
    twilio_answers(monkeypatch, twilio_error(400, code, "refused"))

    assert dispatched(touch) == ("blocked", reason)
    lead.refresh_from_db()
    assert getattr(lead, flag)
    later.refresh_from_db()
    assert (later.status, later.reason) == ("cancelled", reason)


@pytest.mark.parametrize("code", [30003, 30008])
def test_a_transient_error_at_send_time_is_retried(monkeypatch, code):
    lead = LeadFactory(status="in_sequence")
    touch = next_sms(lead)
    twilio_answers(monkeypatch, twilio_error(400, code, "try later"))

    status, _ = dispatched(touch)
    assert status == "planned" and touch.attempts == 1 and touch.scheduled_at > NOW
    lead.refresh_from_db()
    assert not (lead.phone_unusable or lead.sms_unsupported or lead.sms_opted_out)


# --- Failed calls ----------------------------------------------------------------------------------------------


def call_task(lead: Lead) -> ManualTask:
    touch = ScheduledTouchFactory.create(lead=lead, channel="voice", status="waiting", touch_number=5)
    return ManualTask.objects.create(client=lead.client, lead=lead, scheduled_touch=touch, kind="call", message="Hi")


def test_a_failed_call_is_recorded_failed_and_leaves_the_call_task_open(client):
    lead = LeadFactory()
    task = call_task(lead)
    response = twilio_post(client, "twilio-voice-status", call_status("failed", duration="0", ErrorCode="31005"))
    assert response.status_code == 204

    (row,) = Activity.objects.filter(lead=lead)
    assert (row.action, row.channel, row.provider_message_id) == ("voice_failed", "voice", "CA1000")
    assert row.metadata["error_code"] == "31005" and "outcome" not in row.metadata  # no "no answer" claimed
    task.refresh_from_db()
    lead.refresh_from_db()
    assert task.status == "open" and task.scheduled_touch.status == "waiting"
    assert not lead.phone_unusable


@pytest.mark.parametrize("code", ["13224", "21211", "21217"])
def test_a_failed_call_to_an_invalid_number_flags_the_phone(client, code):
    seq = sms_sequence()
    task = call_task(seq.lead)
    twilio_post(client, "twilio-voice-status", call_status("failed", duration="0", ErrorCode=code))

    lead = seq.refresh()
    assert lead.phone_unusable
    assert [row.action for row in outcome_rows(lead)] == ["voice_failed"]
    task.refresh_from_db()
    assert (task.status, task.scheduled_touch.reason) == ("skipped", "phone_unusable")
    assert ScheduledTouch.objects.get(pk=seq.planned[1].pk).reason == "phone_unusable"
    assert dispatched(next_sms(lead)) == ("blocked", "phone_unusable")


def test_a_replayed_failed_call_is_stored_once(client):
    lead = LeadFactory()
    for _ in range(2):
        assert twilio_post(client, "twilio-voice-status", call_status("failed", ErrorCode="13224")).status_code == 204
    assert Activity.objects.filter(lead=lead, action="voice_failed").count() == 1
