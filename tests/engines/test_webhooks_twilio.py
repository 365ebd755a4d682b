"""Twilio callbacks end to end: signed form posts through the real URLs (SMS status, inbound SMS, call status)."""

import pytest
from django.urls import reverse
from django.utils import timezone
from twilio.request_validator import RequestValidator

from outreach.models import Activity, EarlyStatus, ManualTask, ScheduledTouch
from tests.engines.webhook_support import TWILIO_TOKEN, outcome_rows, sequence, twilio_post
from tests.factories import LeadFactory, ScheduledTouchFactory

pytestmark = pytest.mark.django_db

CLIENT_PHONE = "+61291234567"  # ClientFactory's sending phone
LEAD_PHONE = "+61412345678"  # LeadFactory's phone


@pytest.fixture(autouse=True)
def twilio_settings(settings):
    settings.TWILIO_AUTH_TOKEN = TWILIO_TOKEN
    settings.PUBLIC_BASE_URL = "https://outreach.example.com"


def sms_status(sid: str, status: str, **extra) -> dict:
    return {
        "MessageSid": sid,
        "SmsSid": sid,
        "MessageStatus": status,
        "SmsStatus": status,
        "AccountSid": "AC00000000000000000000000000000000",
        "From": CLIENT_PHONE,
        "To": LEAD_PHONE,
        "ApiVersion": "2010-04-01",
        **extra,
    }


def inbound_sms(body: str, *, sid: str = "SM1000", from_phone: str = LEAD_PHONE, to_phone: str = CLIENT_PHONE):
    return {
        "MessageSid": sid,
        "SmsMessageSid": sid,
        "AccountSid": "AC00000000000000000000000000000000",
        "From": from_phone,
        "To": to_phone,
        "Body": body,
        "NumMedia": "0",
    }


def sms_sequence():
    return sequence(channel="sms", message_id="SM0123456789abcdef0123456789abcdef")


# --- Signatures ------------------------------------------------------------------------------------------------


def test_an_unsigned_request_is_refused_and_writes_nothing(client):
    seq = sms_sequence()
    response = client.post(reverse("twilio-sms-inbound"), data=inbound_sms("STOP"))
    assert response.status_code == 403
    assert outcome_rows(seq.lead) == [] and not seq.refresh().sms_opted_out


def test_a_request_signed_with_another_token_is_refused(client):
    seq = sms_sequence()
    response = twilio_post(client, "twilio-sms-inbound", inbound_sms("STOP"), token="not-the-token")
    assert response.status_code == 403
    assert not seq.refresh().sms_opted_out


def test_a_tampered_body_is_refused(client):
    seq = sms_sequence()
    url = "https://outreach.example.com" + reverse("twilio-sms-inbound")
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(url, inbound_sms("Sounds good"))
    response = client.post(reverse("twilio-sms-inbound"), data=inbound_sms("STOP"), HTTP_X_TWILIO_SIGNATURE=signature)
    assert response.status_code == 403
    assert outcome_rows(seq.lead) == []


def test_the_signature_is_checked_against_the_public_url_not_the_request_host(client):
    seq = sms_sequence()
    # Signed for the host Django sees (behind a proxy), not the public URL Twilio called: refused.
    response = twilio_post(client, "twilio-sms-inbound", inbound_sms("STOP"), base="http://testserver")
    assert response.status_code == 403
    assert not seq.refresh().sms_opted_out


def test_the_auth_token_is_read_at_request_time(client, settings):
    seq = sms_sequence()
    settings.TWILIO_AUTH_TOKEN = "rotated-token"
    assert twilio_post(client, "twilio-sms-inbound", inbound_sms("STOP")).status_code == 403
    assert twilio_post(client, "twilio-sms-inbound", inbound_sms("STOP"), token="rotated-token").status_code == 200
    assert seq.refresh().sms_opted_out


def test_without_a_configured_token_every_request_is_refused(client, settings):
    settings.TWILIO_AUTH_TOKEN = ""
    seq = sms_sequence()
    assert twilio_post(client, "twilio-sms-inbound", inbound_sms("STOP"), token="").status_code == 403
    assert not seq.refresh().sms_opted_out


def test_a_get_is_not_allowed(client):
    assert client.get(reverse("twilio-sms-status")).status_code in (403, 405)


# --- Status callbacks --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "action"),
    [
        ("queued", "sms_status"),
        ("sent", "sms_status"),
        ("delivered", "sms_delivered"),
        ("undelivered", "sms_undelivered"),
        ("failed", "sms_undelivered"),
    ],
)
def test_each_status_is_recorded_against_the_sms_it_answers(client, status, action):
    seq = sms_sequence()
    response = twilio_post(client, "twilio-sms-status", sms_status(seq.sent.provider_message_id, status))
    assert response.status_code == 204
    (row,) = outcome_rows(seq.lead)
    assert (row.action, row.channel, row.in_reply_to_id, row.provider) == (action, "sms", seq.sent.pk, "twilio")
    assert seq.statuses() == ["planned", "planned"]


def test_a_replayed_status_is_stored_once(client):
    seq = sms_sequence()
    params = sms_status(seq.sent.provider_message_id, "delivered")
    assert twilio_post(client, "twilio-sms-status", params).status_code == 204
    assert twilio_post(client, "twilio-sms-status", params).status_code == 204
    assert len(outcome_rows(seq.lead)) == 1


def test_statuses_arriving_out_of_order_are_each_recorded(client):
    seq = sms_sequence()
    twilio_post(client, "twilio-sms-status", sms_status(seq.sent.provider_message_id, "delivered"))
    twilio_post(client, "twilio-sms-status", sms_status(seq.sent.provider_message_id, "sent"))
    assert sorted(row.action for row in outcome_rows(seq.lead)) == ["sms_delivered", "sms_status"]


def test_undelivered_because_the_lead_texted_stop_opts_the_lead_out(client):
    seq = sms_sequence()
    params = sms_status(seq.sent.provider_message_id, "undelivered", ErrorCode="21610")
    assert twilio_post(client, "twilio-sms-status", params).status_code == 204
    assert seq.refresh().sms_opted_out
    assert seq.statuses() == ["planned", "cancelled"]


def test_a_status_for_a_message_not_recorded_yet_is_parked_not_lost(client):
    seq = sms_sequence()
    response = twilio_post(client, "twilio-sms-status", sms_status("SMnotrecordedyet", "delivered"))
    assert response.status_code == 202  # Twilio does not retry a status callback: a 404 would lose it
    assert outcome_rows(seq.lead) == []
    assert list(EarlyStatus.objects.values_list("message_id", "status")) == [("SMnotrecordedyet", "delivered")]


def test_a_replayed_early_status_is_parked_once(client):
    params = sms_status("SMnotrecordedyet", "sent")
    assert twilio_post(client, "twilio-sms-status", params).status_code == 202
    assert twilio_post(client, "twilio-sms-status", params).status_code == 202
    assert EarlyStatus.objects.count() == 1


def test_an_unsigned_status_for_an_unknown_message_is_refused_and_not_parked(client):
    response = client.post(reverse("twilio-sms-status"), data=sms_status("SMforged", "delivered"))
    assert response.status_code == 403 and not EarlyStatus.objects.exists()


def test_a_status_without_its_fields_answers_400(client):
    seq = sms_sequence()
    response = twilio_post(client, "twilio-sms-status", {"MessageSid": seq.sent.provider_message_id})
    assert response.status_code == 400
    assert outcome_rows(seq.lead) == []


# --- Inbound SMS -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    ["STOP", "stop", "Stop", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT", " stop. ", "Stop!"],
)
def test_each_opt_out_word_opts_the_lead_out_of_sms_at_once(client, body):
    seq = sms_sequence()
    response = twilio_post(client, "twilio-sms-inbound", inbound_sms(body))
    assert response.status_code == 200 and response["Content-Type"] == "application/xml"
    (row,) = outcome_rows(seq.lead)
    assert (row.action, row.channel, row.in_reply_to_id) == ("opted_out", "sms", seq.sent.pk)
    lead = seq.refresh()
    assert lead.sms_opted_out and not lead.is_unsubscribed
    assert seq.statuses() == ["planned", "cancelled"]  # the email touch stays


@pytest.mark.parametrize("body", ["Please stop texting me", "don't text me again"])
def test_a_refusal_of_texts_in_free_text_opts_out_of_sms_only(client, body):
    seq = sms_sequence()
    twilio_post(client, "twilio-sms-inbound", inbound_sms(body))
    lead = seq.refresh()
    assert lead.sms_opted_out and not lead.is_unsubscribed
    assert outcome_rows(seq.lead)[0].action == "opted_out"


@pytest.mark.parametrize("body", ["Remove me from your list", "Please unsubscribe me", "Do not contact me again"])
def test_a_request_to_stop_contact_by_sms_unsubscribes_from_everything_as_by_email(client, body):
    seq = sms_sequence()
    seq.lead.last_contacted_at = timezone.now()  # as its send set it; the twin at its number was never contacted
    seq.lead.save(update_fields=["last_contacted_at"])
    twin = LeadFactory(client=seq.lead.client, phone=seq.lead.phone, email="twin@example.com")
    twilio_post(client, "twilio-sms-inbound", inbound_sms(body))
    lead = seq.refresh()
    assert lead.sms_opted_out and lead.is_unsubscribed
    assert outcome_rows(seq.lead)[0].action == "opted_out"
    assert {status for status in seq.statuses()} == {"cancelled"}
    twin.refresh_from_db()
    assert twin.sms_opted_out and twin.is_unsubscribed  # the same person, at the same number


@pytest.mark.parametrize("body", ["START", "unstop", " Start. "])
def test_start_or_unstop_subscribes_the_lead_again(client, body):
    seq = sms_sequence()
    seq.lead.sms_opted_out = True
    seq.lead.save(update_fields=["sms_opted_out"])
    assert twilio_post(client, "twilio-sms-inbound", inbound_sms(body)).status_code == 200
    assert not seq.refresh().sms_opted_out
    assert [row.action for row in outcome_rows(seq.lead)] == ["opted_in"]


def test_help_is_answered_and_not_treated_as_a_reply(client):
    seq = sms_sequence()
    response = twilio_post(client, "twilio-sms-inbound", inbound_sms("HELP"))
    assert response.status_code == 200
    assert b"<Message>" in response.content and b"STOP" in response.content
    assert [row.action for row in outcome_rows(seq.lead)] == ["sms_help"]
    assert seq.refresh().status == "in_sequence"
    assert seq.statuses() == ["planned", "planned"]


def test_anything_else_is_a_reply_that_ends_the_sequence(client):
    seq = sms_sequence()
    assert twilio_post(client, "twilio-sms-inbound", inbound_sms("Sounds good, call me Tuesday")).status_code == 200
    (row,) = outcome_rows(seq.lead)
    assert (row.action, row.in_reply_to_id, row.provider_event_id) == ("sms_replied", seq.sent.pk, "SM1000")
    assert row.metadata["text"] == "Sounds good, call me Tuesday"
    assert seq.refresh().status == "replied"
    assert seq.statuses() == ["cancelled", "cancelled"]


def test_a_replayed_inbound_message_is_stored_once(client):
    seq = sms_sequence()
    twilio_post(client, "twilio-sms-inbound", inbound_sms("Yes please"))
    assert twilio_post(client, "twilio-sms-inbound", inbound_sms("Yes please")).status_code == 200
    assert len(outcome_rows(seq.lead)) == 1


def test_the_lead_is_found_by_its_phone_and_the_clients_number(client):
    seq = sms_sequence()
    other_client_lead = LeadFactory(phone=LEAD_PHONE)
    other_client_lead.client.sending_phone = "+61299999999"
    other_client_lead.client.save()
    twilio_post(client, "twilio-sms-inbound", inbound_sms("STOP"))
    assert seq.refresh().sms_opted_out
    other_client_lead.refresh_from_db()
    assert not other_client_lead.sms_opted_out  # texted another client's number: not this STOP


def test_stop_covers_every_lead_of_the_client_with_that_number(client):
    seq = sms_sequence()
    colleague = LeadFactory(client=seq.lead.client, phone=LEAD_PHONE)
    touch = ScheduledTouchFactory(lead=colleague, channel="sms")
    twilio_post(client, "twilio-sms-inbound", inbound_sms("STOP"))
    colleague.refresh_from_db()
    assert colleague.sms_opted_out
    assert ScheduledTouch.objects.get(pk=touch.pk).status == "cancelled"
    assert Activity.objects.filter(action="opted_out").count() == 1


def test_a_message_from_an_unknown_number_is_acknowledged_and_ignored(client):
    seq = sms_sequence()
    response = twilio_post(client, "twilio-sms-inbound", inbound_sms("STOP", from_phone="+61400000000"))
    assert response.status_code == 200
    assert Activity.objects.exclude(pk=seq.sent.pk).count() == 0


def test_help_from_a_number_that_is_no_lead_is_still_answered(client):
    sms_sequence()
    response = twilio_post(client, "twilio-sms-inbound", inbound_sms("HELP", from_phone="+61400000000"))
    assert response.status_code == 200 and b"reply STOP" in response.content
    assert Activity.objects.filter(action="sms_help").count() == 0


def test_an_inbound_message_without_its_fields_answers_400(client):
    assert twilio_post(client, "twilio-sms-inbound", {"Body": "STOP"}).status_code == 400
    assert Activity.objects.count() == 0


# --- Voice -------------------------------------------------------------------------------------------------------


def call_status(status: str, *, sid: str = "CA1000", duration: str = "95", **extra) -> dict:
    return {
        "CallSid": sid,
        "CallStatus": status,
        "CallDuration": duration,
        "From": CLIENT_PHONE,
        "To": LEAD_PHONE,
        "Direction": "outbound-api",
        "AccountSid": "AC00000000000000000000000000000000",
        **extra,
    }


def test_a_completed_call_is_recorded_through_complete_call(client):
    lead = LeadFactory()
    assert twilio_post(client, "twilio-voice-status", call_status("completed")).status_code == 204
    (row,) = Activity.objects.filter(lead=lead)
    assert (row.action, row.channel, row.provider, row.provider_message_id) == (
        "voice_completed",
        "voice",
        "twilio",
        "CA1000",
    )
    assert row.metadata["outcome"] == "connected" and row.metadata["duration_seconds"] == 95


@pytest.mark.parametrize(
    ("status", "extra", "outcome"),
    [
        ("busy", {}, "busy"),
        ("no-answer", {}, "no_answer"),
        ("completed", {"AnsweredBy": "machine_end_beep"}, "voicemail"),
    ],
)
def test_final_call_statuses_map_to_call_outcomes(client, status, extra, outcome):
    lead = LeadFactory()
    twilio_post(client, "twilio-voice-status", call_status(status, **extra))
    assert Activity.objects.get(lead=lead).metadata["outcome"] == outcome


def test_a_replayed_call_status_is_stored_once(client):
    lead = LeadFactory()
    twilio_post(client, "twilio-voice-status", call_status("completed"))
    assert twilio_post(client, "twilio-voice-status", call_status("completed")).status_code == 204
    assert Activity.objects.filter(lead=lead).count() == 1


def test_intermediate_call_statuses_record_nothing(client):
    LeadFactory()
    assert twilio_post(client, "twilio-voice-status", call_status("ringing")).status_code == 204
    assert Activity.objects.count() == 0


def test_a_call_completes_the_leads_open_call_task(client):
    lead = LeadFactory()
    touch = ScheduledTouchFactory(lead=lead, channel="voice", status="waiting")
    task = ManualTask.objects.create(
        client=lead.client, lead=lead, scheduled_touch=touch, kind="call", message="Hi {first_name}"
    )
    twilio_post(client, "twilio-voice-status", call_status("completed"))
    touch.refresh_from_db()
    task.refresh_from_db()
    assert touch.status == "sent" and touch.activity.action == "voice_completed"
    assert (task.status, task.outcome) == ("done", "connected")


def test_a_call_to_a_lead_who_became_do_not_contact_is_still_recorded(client):
    lead = LeadFactory(do_not_contact=True)
    assert twilio_post(client, "twilio-voice-status", call_status("completed")).status_code == 204
    assert Activity.objects.filter(lead=lead, action="voice_completed").count() == 1


def test_a_call_to_an_unknown_number_answers_404(client):
    assert twilio_post(client, "twilio-voice-status", call_status("completed")).status_code == 404


def test_a_call_status_signed_wrongly_is_refused(client):
    LeadFactory()
    response = twilio_post(client, "twilio-voice-status", call_status("completed"), token="wrong")
    assert response.status_code == 403
    assert Activity.objects.count() == 0
