"""SMS statuses that arrive before their send is recorded: parked, then applied when it is, never lost or doubled."""

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.db import DatabaseError
from django.test import Client as HttpClient

from engines.providers.sms import RecordingSmsProvider, SentSms
from engines.services.outcomes import early_statuses, events
from engines.services.sending.dispatcher import dispatch_due_touches
from outreach.models import Activity, EarlyStatus, ScheduledTouch
from tests.engines.webhook_support import TWILIO_TOKEN, outcome_rows, sequence, twilio_post
from tests.factories import (
    ClientFactory,
    EarlyStatusFactory,
    LeadFactory,
    MessageTemplateFactory,
    ScheduledTouchFactory,
)

pytestmark = pytest.mark.django_db

SYDNEY = ZoneInfo("Australia/Sydney")
# Wednesday 4 March 2026, 10:30 in Sydney: inside Australian contact hours.
NOW = datetime(2026, 3, 4, 10, 30, tzinfo=SYDNEY)


@pytest.fixture(autouse=True)
def twilio_settings(settings):
    settings.TWILIO_AUTH_TOKEN = TWILIO_TOKEN
    settings.PUBLIC_BASE_URL = "https://outreach.example.com"
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    mail.outbox = []


def status_form(sid: str, status: str, **extra) -> dict:
    return {"MessageSid": sid, "MessageStatus": status, "AccountSid": "AC" + "0" * 32, **extra}


class FastCallbackSmsProvider(RecordingSmsProvider):
    """Twilio at its quickest: the message's status callbacks reach our webhook before its send call returns."""

    statuses: tuple[str, ...] = ("sent", "delivered")
    answers: list[int] = []

    def send(self, *, to: str, from_: str, body: str) -> SentSms:
        sent = super().send(to=to, from_=from_, body=body)
        for status in self.statuses:
            response = twilio_post(HttpClient(), "twilio-sms-status", status_form(sent.message_id, status))
            self.answers.append(response.status_code)
        return sent


def test_statuses_that_beat_the_dispatcher_are_recorded_against_their_send(settings):
    settings.SMS_PROVIDER = f"{__name__}.FastCallbackSmsProvider"
    FastCallbackSmsProvider.answers.clear()
    client = ClientFactory()
    MessageTemplateFactory(client=client, channel="sms", touch_number=1, subject="", body="Hi {first_name}")
    touch = ScheduledTouchFactory(
        lead=LeadFactory(client=client), client=client, channel="sms", scheduled_at=NOW - timedelta(hours=1)
    )

    counts = dispatch_due_touches(now=NOW, threads=1)

    assert counts["sent"] == 1 and FastCallbackSmsProvider.answers == [202, 202]
    sent = Activity.objects.get(action="sms_sent")
    assert ScheduledTouch.objects.get(pk=touch.pk).activity_id == sent.pk
    statuses = Activity.objects.filter(in_reply_to=sent).order_by("action")
    assert [row.action for row in statuses] == ["sms_delivered", "sms_status"]
    assert not EarlyStatus.objects.exists()


def test_a_status_parked_just_before_its_send_was_recorded_is_applied_by_the_callback(monkeypatch):
    """The recorder looked for parked statuses before this one was parked: the callback finds the send itself."""
    seq = sequence(channel="sms", message_id="SMraced")
    real_lookup = early_statuses.sent_sms
    lookups: list[str] = []

    def lookup(sid):  # the first lookup misses: the send commits between it and the parking
        lookups.append(sid)
        return None if len(lookups) == 1 else real_lookup(sid)

    monkeypatch.setattr(early_statuses, "sent_sms", lookup)

    result = early_statuses.record_status(
        "SMraced", status="delivered", error_code="", provider="twilio", at=NOW, metadata={}
    )  # fmt: skip

    assert result == "recorded" and lookups == ["SMraced", "SMraced"]
    assert [row.action for row in outcome_rows(seq.lead)] == ["sms_delivered"]
    assert not EarlyStatus.objects.exists()


def test_applying_a_parked_status_twice_stores_it_once():
    seq = sequence(channel="sms", message_id="SMtwice")
    events.record_sms_status(
        seq.sent, status="delivered", error_code="", provider="twilio", at=NOW, metadata={}
    )  # fmt: skip
    EarlyStatusFactory(message_id="SMtwice", status="delivered")

    assert early_statuses.apply_parked([seq.sent]) == 1

    assert [row.action for row in outcome_rows(seq.lead)] == ["sms_delivered"]
    assert not EarlyStatus.objects.exists()


def test_a_parked_opt_out_status_opts_the_lead_out_when_the_send_is_recorded():
    seq = sequence(channel="sms", message_id="SMstop")
    EarlyStatusFactory(message_id="SMstop", status="undelivered", error_code="21610")

    early_statuses.apply_parked([seq.sent])

    assert seq.refresh().sms_opted_out
    assert seq.statuses() == ["planned", "cancelled"]


def test_parked_statuses_of_other_messages_and_email_sends_are_left_alone():
    email = sequence(channel="email", message_id="SMlookalike")
    EarlyStatusFactory(message_id="SMlookalike")
    EarlyStatusFactory(message_id="SMsomeoneelse")

    assert early_statuses.apply_parked([email.sent]) == 0
    assert EarlyStatus.objects.count() == 2


@pytest.mark.parametrize("error", [DatabaseError("connection lost"), RuntimeError("a bug of ours")])
def test_a_send_is_recorded_even_when_its_parked_statuses_cannot_be_applied(monkeypatch, caplog, settings, error):
    settings.SMS_PROVIDER = f"{__name__}.FastCallbackSmsProvider"
    FastCallbackSmsProvider.answers.clear()

    def broken(*args, **kwargs):
        raise error

    monkeypatch.setattr(events, "record_sms_status", broken)
    client = ClientFactory()
    MessageTemplateFactory(client=client, channel="sms", touch_number=1, subject="", body="Hi {first_name}")
    ScheduledTouchFactory(lead=LeadFactory(client=client), client=client, channel="sms", scheduled_at=NOW)

    with caplog.at_level(logging.ERROR):
        counts = dispatch_due_touches(now=NOW + timedelta(minutes=1), threads=1)

    assert counts["sent"] == 1 and Activity.objects.filter(action="sms_sent").count() == 1
    assert EarlyStatus.objects.count() == 2 and "next sweep retries" in caplog.text

    monkeypatch.undo()
    early_statuses.settle_parked(now=NOW + timedelta(minutes=2))
    assert not EarlyStatus.objects.exists()
    assert Activity.objects.filter(action__in=["sms_delivered", "sms_status"]).count() == 2


def test_the_sweep_drops_statuses_whose_message_never_appears_and_keeps_young_ones(caplog):
    EarlyStatusFactory(message_id="SMold", received_at=NOW - early_statuses.UNMATCHED_AFTER - timedelta(minutes=1))
    EarlyStatusFactory(message_id="SMyoung", received_at=NOW - timedelta(minutes=5))

    with caplog.at_level(logging.WARNING, logger="engines.webhooks"):
        assert early_statuses.settle_parked(now=NOW) == 1

    assert list(EarlyStatus.objects.values_list("message_id", flat=True)) == ["SMyoung"]
    assert "SMold" in caplog.text and "matched no send" in caplog.text


@pytest.mark.parametrize("error", [DatabaseError("refused by a constraint"), RuntimeError("a bug of ours")])
def test_a_status_that_cannot_be_applied_neither_stops_the_dispatcher_nor_outlives_the_sweep(
    monkeypatch, caplog, error
):
    seq = sequence(channel="sms", message_id="SMpoison")
    EarlyStatusFactory(message_id="SMpoison", received_at=NOW - timedelta(minutes=5))

    def refused(*args, **kwargs):
        raise error

    monkeypatch.setattr(events, "record_sms_status", refused)
    due = ScheduledTouchFactory(lead=LeadFactory(client=seq.lead.client), channel="email", scheduled_at=NOW)
    MessageTemplateFactory(client=seq.lead.client, channel="email", touch_number=1, subject="Hi {first_name}")

    with caplog.at_level(logging.ERROR):
        counts = dispatch_due_touches(now=NOW + timedelta(minutes=1), threads=1)

    assert counts["sent"] == 1 and ScheduledTouch.objects.get(pk=due.pk).status == "sent"
    assert EarlyStatus.objects.count() == 1 and "next sweep retries" in caplog.text
    assert early_statuses.settle_parked(now=NOW + early_statuses.UNMATCHED_AFTER) == 1
    assert not EarlyStatus.objects.exists()


def test_each_dispatch_run_sweeps_the_parked_statuses():
    EarlyStatusFactory(message_id="SMold", received_at=NOW - early_statuses.UNMATCHED_AFTER - timedelta(hours=1))
    dispatch_due_touches(now=NOW)
    assert not EarlyStatus.objects.exists()
