"""Replies read for their intent, end to end through the real inbound URLs (Postmark inbound, Twilio inbound
SMS): issue 20's two replies, a refused channel, an unsubscribe, and the intent left for the back office."""

import pytest

from outreach.models import ScheduledTouch
from tests.engines.test_webhooks_email import lead_reply
from tests.engines.test_webhooks_twilio import inbound_sms, sms_sequence
from tests.engines.webhook_support import (
    TWILIO_TOKEN,
    WEBHOOK_SECRET,
    outcome_rows,
    postmark_inbound,
    sequence,
    twilio_post,
)
from tests.factories import ScheduledTouchFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def webhook_settings(settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": WEBHOOK_SECRET}
    settings.TWILIO_AUTH_TOKEN = TWILIO_TOKEN
    settings.PUBLIC_BASE_URL = "https://outreach.example.com"


def with_a_call(seq):
    """The sequence with a call planned after its email and SMS touches."""
    seq.planned.append(
        ScheduledTouchFactory.create(lead=seq.lead, sequence_id=seq.sent.sequence_id, touch_number=4, channel="voice")
    )
    return seq


def touches(seq) -> dict[str, tuple[str, str]]:
    """Each planned touch's channel -> (status, reason)."""
    return {
        touch.channel: (touch.status, touch.reason)
        for touch in ScheduledTouch.objects.filter(pk__in=[planned.pk for planned in seq.planned])
    }


def test_an_interested_email_that_refuses_calls_is_a_reply_that_stops_calls_only(client):
    seq = with_a_call(sequence())
    text = "yes - interested. Don't call my mobile, email is best"
    assert postmark_inbound(client, lead_reply(seq.lead, text=text)).status_code == 200
    (row,) = outcome_rows(seq.lead)
    assert row.action == "email_replied"
    assert (row.metadata["intent"], row.metadata["stop_channels"]) == ("interested", ["voice"])
    lead = seq.refresh()
    assert not lead.is_unsubscribed and not lead.email_opted_out and not lead.sms_opted_out
    assert lead.voice_opted_out and lead.status == "replied"
    # The call is cancelled as refused; email is not opted out: its touch ends only because a person now
    # answers the lead (every reply ends the sequence, StopReason.REPLIED).
    assert touches(seq) == {
        "voice": ("cancelled", "voice_opted_out"),
        "email": ("cancelled", "lead_replied"),
        "sms": ("cancelled", "lead_replied"),
    }


def test_an_interested_sms_that_refuses_calls_keeps_texts_and_stops_calls(client):
    seq = with_a_call(sms_sequence())
    response = twilio_post(client, "twilio-sms-inbound", inbound_sms("Yes interested! Don't call, text me a time"))
    assert response.status_code == 200
    (row,) = outcome_rows(seq.lead)
    assert (row.action, row.metadata["intent"], row.metadata["stop_channels"]) == (
        "sms_replied",
        "interested",
        ["voice"],
    )
    lead = seq.refresh()
    assert not lead.sms_opted_out and not lead.is_unsubscribed
    assert lead.voice_opted_out and lead.status == "replied"
    assert touches(seq)["voice"] == ("cancelled", "voice_opted_out")
    assert touches(seq)["sms"] == ("cancelled", "lead_replied")


def test_an_email_refusing_email_opts_out_of_email_only(client):
    seq = with_a_call(sequence())
    assert postmark_inbound(client, lead_reply(seq.lead, text="Stop emailing me")).status_code == 200
    (row,) = outcome_rows(seq.lead)
    assert (row.action, row.metadata["intent"]) == ("email_replied", "channel_preference")
    lead = seq.refresh()
    assert lead.email_opted_out and not lead.is_unsubscribed and not lead.voice_opted_out
    assert touches(seq)["email"] == ("cancelled", "email_opted_out")


def test_an_explicit_request_to_stop_still_unsubscribes_from_everything(client):
    seq = with_a_call(sequence())
    text = "Not interested. Please remove me from your list."
    assert postmark_inbound(client, lead_reply(seq.lead, text=text)).status_code == 200
    (row,) = outcome_rows(seq.lead)
    assert row.action == "opted_out"
    assert seq.refresh().is_unsubscribed
    assert {status for status, _ in touches(seq).values()} == {"cancelled"}


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("Who is this?", "unknown"),
        ("I'm not the right person, try Jane", "wrong_person"),
        ("No thanks", "not_interested"),
    ],
)
def test_other_replies_are_recorded_with_their_intent_for_a_person(client, text, intent):
    seq = sms_sequence()
    assert twilio_post(client, "twilio-sms-inbound", inbound_sms(text)).status_code == 200
    (row,) = outcome_rows(seq.lead)
    assert (row.action, row.metadata["intent"]) == ("sms_replied", intent)
    assert seq.refresh().status == "replied" and not seq.lead.sms_opted_out


def test_a_later_reply_keeps_the_date_it_names(client):
    seq = sequence()
    payload = lead_reply(seq.lead, text="Not right now. Circle back in two weeks.")
    payload["Date"] = "Mon, 07 Dec 2026 09:00:00 +0000"
    assert postmark_inbound(client, payload).status_code == 200
    (row,) = outcome_rows(seq.lead)
    assert row.metadata["intent"] == "later" and row.metadata["later"]  # relative to the time it was received


def test_an_sms_refusing_texts_and_calls_opts_the_number_out_of_both(client):
    seq = with_a_call(sms_sequence())
    assert twilio_post(client, "twilio-sms-inbound", inbound_sms("No calls or texts please")).status_code == 200
    (row,) = outcome_rows(seq.lead)
    assert (row.action, row.channel) == ("opted_out", "sms")
    lead = seq.refresh()
    assert lead.sms_opted_out and lead.voice_opted_out and not lead.is_unsubscribed
    assert touches(seq)["email"] == ("planned", "")


def test_an_out_of_office_email_body_is_an_auto_reply(client):
    seq = sequence()
    text = "I am out of the office until Monday with limited access to email."
    assert postmark_inbound(client, lead_reply(seq.lead, subject="Re: Quick question", text=text)).status_code == 200
    (row,) = outcome_rows(seq.lead)
    assert row.action == "email_auto_replied"
    assert seq.refresh().status == "in_sequence"
