"""Hostile provider input at every door: NUL and lone surrogates, deep JSON, dates and numbers that do not parse.

PostgreSQL refuses NUL in text and json, and neither database stores a lone surrogate: each used to answer
500 on every retry, so the bounce or the STOP reply it carried was never recorded. Run on both databases.
"""

import json
import uuid

import pytest
from django.test import Client as HttpClient
from django.test import RequestFactory
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engines.rules.provider_input import TooDeep
from engines.webhooks.cleaning import clean_json_body
from outreach.models import Activity
from tests.engines.test_webhooks_email import bounce, delivery, lead_reply
from tests.engines.test_webhooks_twilio import call_status, inbound_sms
from tests.engines.webhook_support import (
    CAL_SECRET,
    TWILIO_TOKEN,
    WEBHOOK_SECRET,
    cal_booking,
    cal_post,
    outcome_rows,
    postmark_inbound,
    postmark_tracking,
    sequence,
    twilio_post,
)
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db

HOSTILE = ("\x00", "\ud800", "\udfff")


@pytest.fixture(autouse=True)
def provider_secrets(settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": WEBHOOK_SECRET}
    settings.TWILIO_AUTH_TOKEN = TWILIO_TOKEN
    settings.PUBLIC_BASE_URL = "https://outreach.example.com"
    settings.CAL_COM_WEBHOOK_SECRET = CAL_SECRET


def stored_text(rows: list[Activity]) -> str:
    """Everything stored of these rows that came from the provider, as one string."""
    return json.dumps(
        [[row.provider_event_id, row.provider_message_id, row.metadata] for row in rows], ensure_ascii=False
    )


def assert_clean(rows: list[Activity]) -> None:
    text = stored_text(rows)
    assert not any(char in text for char in HOSTILE), text


def nested(depth: int) -> object:
    value: object = "deep"
    for _ in range(depth):
        value = {"a": [value]}
    return value


# --- Email (anymail) ---------------------------------------------------------------------------------------------


def test_a_hard_bounce_with_nul_in_its_mta_text_still_stops_email(client):
    seq = sequence()
    payload = bounce(seq.sent.provider_message_id)
    payload["Details"] = "smtp;550 5.1.1 no such user\x00\x00 (mailbox\ud800 gone)"
    payload["Description"] = "unknown user\x00"
    payload["Metadata"] = {"note\x00": "x\x00y"}
    assert postmark_tracking(client, payload).status_code == 200
    (row,) = outcome_rows(seq.lead)
    assert row.action == "email_bounced"
    assert row.metadata["mta_response"] == "smtp;550 5.1.1 no such user (mailbox\ufffd gone)"
    assert_clean([row])
    assert seq.refresh().has_bounced
    assert seq.statuses() == ["cancelled", "planned"]  # the email touch; the SMS one still goes


def test_a_stop_reply_with_nul_and_a_lone_surrogate_still_unsubscribes_the_lead(client):
    seq = sequence()
    payload = lead_reply(seq.lead, subject="Re: Quick\x00 question\ud800", text="Unsubscribe\x00 me \ud800")
    payload["Headers"] = [{"Name": "Message-ID", "Value": "<reply-1\x00@mail.lead.example.com>"}]
    assert postmark_inbound(client, payload).status_code == 200
    (row,) = outcome_rows(seq.lead)
    assert row.action == "opted_out"
    assert row.metadata["text"] == "Unsubscribe me \ufffd"
    assert_clean([row])
    assert seq.refresh().is_unsubscribed


def test_a_reply_with_nul_and_a_lone_surrogate_is_recorded_clean(client):
    seq = sequence()
    payload = lead_reply(seq.lead, text="Sounds\x00 good\ud800, Tuesday works.")
    assert postmark_inbound(client, payload).status_code == 200
    (row,) = outcome_rows(seq.lead)
    assert row.action == "email_replied"
    assert row.metadata["text"] == "Sounds good\ufffd, Tuesday works."
    assert_clean([row])


@pytest.mark.parametrize("depth", [40, 100_000])
def test_deep_json_to_an_anymail_webhook_is_refused_and_writes_nothing(client, depth):
    seq = sequence()
    tracking = delivery(seq.sent.provider_message_id)
    tracking["Metadata"] = {"deep": "@"}
    body = json.dumps(tracking).replace('"@"', "[" * depth + "]" * depth)
    assert postmark_tracking(client, body).status_code == 400
    reply = lead_reply(seq.lead)
    reply["Attachments"] = "@"
    body = json.dumps(reply).replace('"@"', "[" * depth + "]" * depth)
    assert postmark_inbound(client, body).status_code == 400
    assert outcome_rows(seq.lead) == []


@pytest.mark.parametrize("delivered_at", ["not a date", "9" * 400, "2026-11-20T05:33:54Z\x00"])
def test_a_replayed_delivery_whose_date_does_not_parse_is_stored_once(client, delivered_at):
    seq = sequence()
    payload = delivery(seq.sent.provider_message_id, at=delivered_at)
    assert postmark_tracking(client, payload).status_code == 200
    assert postmark_tracking(client, payload).status_code == 200
    (row,) = outcome_rows(seq.lead)
    assert row.action == "email_delivered"
    assert_clean([row])


@pytest.mark.parametrize("delivered_at", ["2026-13-45T10:00:00Z", None, 12])
def test_a_date_anymail_cannot_parse_is_refused_not_500(client, delivered_at):
    seq = sequence()
    payload = delivery(seq.sent.provider_message_id, at=delivered_at)
    assert postmark_tracking(client, payload).status_code == 400  # anymail's own parsing refuses it
    assert outcome_rows(seq.lead) == []


@pytest.mark.parametrize(
    ("field", "value"),
    [("Subject", "Re: hello\r\nBcc: someone@example.com"), ("Subject", "Re:\rhello"), ("FromName", "Pat\nSmith")],
)
def test_a_line_break_in_a_reply_header_is_folded_and_the_request_to_stop_still_unsubscribes(client, field, value):
    seq = sequence()
    payload = lead_reply(seq.lead, text="Please remove me from your list")
    payload[field] = value
    payload["Headers"] = [{"Name": "X-Note", "Value": "one\ntwo"}]
    assert postmark_inbound(client, payload).status_code == 200
    (row,) = outcome_rows(seq.lead)
    assert row.action == "opted_out" and seq.refresh().is_unsubscribed
    assert_clean([row])


# Any code point, surrogates included: st.text() leaves them out, so the text is joined from characters.
ANY_TEXT = st.lists(st.sampled_from(HOSTILE) | st.characters(blacklist_categories=()), max_size=200).map("".join)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=ANY_TEXT)
def test_any_text_in_a_reply_is_recorded_without_nul_or_surrogates(text):
    seq = sequence()
    payload = lead_reply(seq.lead, text=text)
    payload["Headers"] = [{"Name": "Message-ID", "Value": f"<{uuid.uuid4()}@mail.lead.example.com>"}]
    response = postmark_inbound(HttpClient(), payload)
    assert response.status_code == 200
    assert_clean(outcome_rows(seq.lead))


# --- Twilio ------------------------------------------------------------------------------------------------------


def test_a_stop_sms_with_nul_in_its_body_and_sid_still_opts_the_lead_out(client):
    seq = sequence(channel="sms", message_id="SM0123456789abcdef0123456789abcdef")
    params = inbound_sms("STOP\x00", sid="SM\x00hostile")
    assert twilio_post(client, "twilio-sms-inbound", params).status_code == 200
    (row,) = outcome_rows(seq.lead)
    assert row.action == "opted_out"
    assert (row.provider_event_id, row.metadata["text"]) == ("SMhostile", "STOP")
    assert_clean([row])
    assert seq.refresh().sms_opted_out


def test_a_sms_reply_with_nul_is_recorded_clean(client):
    seq = sequence(channel="sms", message_id="SM0123456789abcdef0123456789abcdef")
    assert twilio_post(client, "twilio-sms-inbound", inbound_sms("Sure\x00, call me", sid="SM2\x00")).status_code == 200
    (row,) = outcome_rows(seq.lead)
    assert (row.action, row.metadata["text"]) == ("sms_replied", "Sure, call me")
    assert_clean([row])


def test_a_sms_status_with_nul_is_answered_not_500(client):
    seq = sequence(channel="sms", message_id="SM0123456789abcdef0123456789abcdef")
    params = {"MessageSid": "SM0123456789abcdef0123456789abcdef\x00", "MessageStatus": "delivered\x00"}
    assert twilio_post(client, "twilio-sms-status", params).status_code == 204
    (row,) = outcome_rows(seq.lead)
    assert row.action == "sms_delivered"
    assert_clean([row])


@pytest.mark.parametrize("duration", ["9" * 400, "9" * 5000, "-1\x00", "１２", "1e9", "99999999999"])
def test_a_call_duration_that_is_not_whole_seconds_is_refused(client, duration):
    lead = LeadFactory()
    response = twilio_post(client, "twilio-voice-status", call_status("completed", duration=duration))
    assert response.status_code == 400
    assert outcome_rows(lead) == []


def test_a_call_status_with_nul_is_recorded_clean(client):
    lead = LeadFactory()
    params = call_status("completed", sid="CA\x001000", AnsweredBy="human\x00")
    assert twilio_post(client, "twilio-voice-status", params).status_code == 204
    (row,) = Activity.objects.filter(lead=lead)
    assert (row.action, row.provider_message_id) == ("voice_completed", "CA1000")
    assert_clean([row])


# --- Cal.com -----------------------------------------------------------------------------------------------------


def test_a_booking_whose_title_has_nul_still_converts_the_lead(client):
    seq = sequence()
    payload = cal_booking(seq.lead.email, organizer=seq.lead.client.sending_email, uid="uid\x00-1")
    payload["payload"]["title"] = "30 min\x00 meeting \ud800"
    assert cal_post(client, payload).status_code == 200
    (row,) = outcome_rows(seq.lead, "meeting_booked")
    assert row.metadata["title"] == "30 min meeting \ufffd"
    assert_clean([row])
    assert seq.refresh().status == "converted"


@pytest.mark.parametrize("depth", [40, 100_000])
def test_deep_json_to_the_booking_webhook_is_refused(client, depth):
    seq = sequence()
    payload = cal_booking(seq.lead.email, organizer=seq.lead.client.sending_email)
    payload["payload"]["responses"] = "@"
    body = json.dumps(payload).replace('"@"', "[" * depth + "]" * depth).encode()
    assert cal_post(client, body).status_code == 400
    assert outcome_rows(seq.lead) == []
    assert seq.refresh().status == "in_sequence"


@pytest.mark.parametrize("when", ["2026-13-45T10:00", "2026-02-30T10:00:00Z", "9" * 400, "soon", 12, None, ["x"]])
def test_a_booking_whose_dates_do_not_parse_is_stored_without_them(client, when):
    seq = sequence()
    payload = cal_booking(seq.lead.email, organizer=seq.lead.client.sending_email)
    payload["createdAt"] = payload["payload"]["createdAt"] = payload["payload"]["startTime"] = when
    assert cal_post(client, payload).status_code == 200
    (row,) = outcome_rows(seq.lead, "meeting_booked")
    assert "start" not in row.metadata
    assert cal_post(client, payload).status_code == 200
    assert len(outcome_rows(seq.lead, "meeting_booked")) == 1


# --- The door's own check -----------------------------------------------------------------------------------


def json_request(body: bytes, content_type: str = "application/json"):
    return RequestFactory().post("/hook/", data=body, content_type=content_type)


def test_a_clean_json_body_is_vouched_for_so_its_tracking_events_are_not_cleaned_twice():
    request = json_request(
        json.dumps({"RecordType": "Delivery", "Details": "ok\nfine", "Tag": "[{not nesting}]"}).encode()
    )
    assert clean_json_body(request) is True
    assert json.loads(request.body)["Details"] == "ok\nfine"  # not a header: kept as it is


def test_an_escape_anymail_decodes_later_is_not_vouched_for():
    inner = json.dumps({"bounce": {"diagnosticCode": "smtp; 550 \x00 user unknown"}})
    request = json_request(json.dumps({"Type": "Notification", "Message": inner}).encode())  # Amazon SES's shape
    assert clean_json_body(request) is False  # the receivers clean what anymail parses from the inner JSON
    assert clean_json_body(json_request(b"first=Pat", "application/x-www-form-urlencoded")) is False


@pytest.mark.parametrize(("depth", "refused"), [(16, False), (17, True)])
def test_nesting_past_the_limit_is_refused_at_the_door_even_without_an_escape(depth, refused):
    request = json_request(json.dumps(nested(depth)).encode())  # two levels (an object and a list) each
    if refused:
        with pytest.raises(TooDeep):
            clean_json_body(request)
    else:
        assert clean_json_body(request) is True
