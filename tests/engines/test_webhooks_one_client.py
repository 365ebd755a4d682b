"""One client per event (issue 20): an inbound email, SMS or tracking event acts only on a lead of the client its
address, number or message id belongs to, through the real URLs (Postmark with basic auth, signed Twilio)."""

import pytest

from outreach.models import Activity
from tests.engines.test_webhooks_email import WEBHOOK_SECRET, bounce, complaint, delivery, inbound_email
from tests.engines.test_webhooks_twilio import TWILIO_TOKEN, inbound_sms
from tests.engines.webhook_support import outcome_rows, postmark_inbound, postmark_tracking, sequence, twilio_post
from tests.factories import ClientFactory, LeadFactory

pytestmark = pytest.mark.django_db

A_EMAIL, B_EMAIL = "hello@client-a.example.com", "hello@client-b.example.com"
A_PHONE, B_PHONE = "+61290000001", "+61290000002"
PERSON_EMAIL, PERSON_PHONE = "pat@lead.example.com", "+61412345678"
STOP_TEXT = "Please stop emailing me, remove me from your list."


@pytest.fixture(autouse=True)
def provider_settings(settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": WEBHOOK_SECRET}
    settings.TWILIO_AUTH_TOKEN = TWILIO_TOKEN
    settings.PUBLIC_BASE_URL = "https://outreach.example.com"


@pytest.fixture
def client_a():
    return ClientFactory(sending_email=A_EMAIL, sending_phone=A_PHONE)


@pytest.fixture
def client_b():
    return ClientFactory(sending_email=B_EMAIL, sending_phone=B_PHONE)


def lead_of(client, *, channel="email", email=PERSON_EMAIL, phone=PERSON_PHONE):
    """A lead of `client` with a sent touch (on `channel`) and touches 2 (email) and 3 (SMS) planned."""
    return sequence(channel=channel, lead=LeadFactory(client=client, email=email, phone=phone, status="in_sequence"))


def assert_untouched(seq):
    """Nothing but its sent touch on the lead, and the lead and its plan as they were."""
    assert outcome_rows(seq.lead) == []
    assert list(Activity.objects.filter(lead=seq.lead)) == [seq.sent]
    lead = seq.refresh()
    assert lead.status == "in_sequence"
    assert not (lead.is_unsubscribed or lead.email_opted_out or lead.sms_opted_out)
    assert seq.statuses() == ["planned", "planned"]


# --- Inbound email ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["Sounds good, Tuesday works.", STOP_TEXT])
def test_an_email_to_a_from_a_lead_only_b_has_touches_nobody(client, client_a, client_b, text):
    b = lead_of(client_b)
    assert postmark_inbound(client, inbound_email(PERSON_EMAIL, to=A_EMAIL, text=text)).status_code == 200
    assert_untouched(b)
    assert Activity.objects.exclude(pk=b.sent.pk).count() == 0


@pytest.mark.parametrize(
    ("text", "action"), [("Sounds good, Tuesday works.", "email_replied"), (STOP_TEXT, "opted_out")]
)
def test_an_email_to_a_from_an_address_both_clients_have_marks_only_as_lead(client, client_a, client_b, text, action):
    a, b = lead_of(client_a), lead_of(client_b)
    assert postmark_inbound(client, inbound_email(PERSON_EMAIL, to=A_EMAIL, text=text)).status_code == 200
    (row,) = outcome_rows(a.lead)
    assert (row.action, row.in_reply_to_id, row.client_id) == (action, a.sent.pk, client_a.pk)
    assert a.refresh().status in {"replied", "closed"}
    assert_untouched(b)


def test_in_reply_to_as_message_sent_to_bs_address_is_not_as_reply(client, client_a, client_b):
    """The message id wins only within the client written to: A's message named in an email to B's address
    does not place it at A, and the sender being no lead of B, nobody is marked."""
    a = lead_of(client_a)
    payload = inbound_email(PERSON_EMAIL, to=B_EMAIL, headers=[("In-Reply-To", f"<{a.sent.provider_message_id}>")])
    assert postmark_inbound(client, payload).status_code == 200
    assert_untouched(a)
    assert Activity.objects.exclude(pk=a.sent.pk).count() == 0


def test_in_reply_to_as_message_sent_to_bs_address_is_bs_leads_reply_when_b_has_the_sender(client, client_a, client_b):
    a, b = lead_of(client_a), lead_of(client_b)
    payload = inbound_email(PERSON_EMAIL, to=B_EMAIL, headers=[("In-Reply-To", f"<{a.sent.provider_message_id}>")])
    assert postmark_inbound(client, payload).status_code == 200
    (row,) = outcome_rows(b.lead)
    assert (row.action, row.in_reply_to_id) == ("email_replied", b.sent.pk)  # B's own email, not A's message
    assert_untouched(a)


def test_in_reply_to_as_message_counts_when_a_is_among_the_recipients(client, client_a, client_b):
    a, b = lead_of(client_a), lead_of(client_b)
    payload = inbound_email(
        "colleague@lead.example.com", to=B_EMAIL, headers=[("In-Reply-To", f"<{a.sent.provider_message_id}>")]
    )
    payload["CcFull"] = [{"Email": A_EMAIL, "Name": "", "MailboxHash": ""}]
    assert postmark_inbound(client, payload).status_code == 200
    (row,) = outcome_rows(a.lead)
    assert (row.action, row.in_reply_to_id) == ("email_replied", a.sent.pk)
    assert_untouched(b)


def test_an_email_to_both_clients_from_a_lead_of_both_names_no_lead(client, client_a, client_b):
    a, b = lead_of(client_a), lead_of(client_b)
    payload = inbound_email(PERSON_EMAIL, to=A_EMAIL, text=STOP_TEXT)
    payload["CcFull"] = [{"Email": B_EMAIL, "Name": "", "MailboxHash": ""}]
    assert postmark_inbound(client, payload).status_code == 200
    assert_untouched(a)
    assert_untouched(b)


# --- Inbound SMS -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("body", ["Sounds good, call me Tuesday", "STOP"])
def test_an_sms_to_as_number_from_a_phone_only_b_has_touches_nobody(client, client_a, client_b, body):
    b = lead_of(client_b, channel="sms")
    response = twilio_post(client, "twilio-sms-inbound", inbound_sms(body, from_phone=PERSON_PHONE, to_phone=A_PHONE))
    assert response.status_code == 200
    assert_untouched(b)
    assert Activity.objects.exclude(pk=b.sent.pk).count() == 0


def test_stop_to_as_number_from_a_phone_both_clients_have_opts_out_only_as_lead(client, client_a, client_b):
    a, b = lead_of(client_a, channel="sms"), lead_of(client_b, channel="sms")
    response = twilio_post(client, "twilio-sms-inbound", inbound_sms("STOP", from_phone=PERSON_PHONE, to_phone=A_PHONE))
    assert response.status_code == 200
    (row,) = outcome_rows(a.lead)
    assert (row.action, row.client_id) == ("opted_out", client_a.pk)
    assert a.refresh().sms_opted_out
    assert_untouched(b)


def test_an_sms_to_no_clients_number_touches_nobody(client, client_a, client_b):
    a, b = lead_of(client_a, channel="sms"), lead_of(client_b, channel="sms")
    params = inbound_sms("STOP", from_phone=PERSON_PHONE, to_phone="+61290000009")
    assert twilio_post(client, "twilio-sms-inbound", params).status_code == 200
    assert_untouched(a)
    assert_untouched(b)


def test_stop_to_a_number_two_clients_share_from_a_lead_of_both_opts_out_nobody(client):
    """Whose lead texted cannot be told: a STOP must not opt out a lead of the other client (Twilio itself
    still blocks the number on that sender when Advanced Opt-Out is on)."""
    a = lead_of(ClientFactory(sending_phone=A_PHONE), channel="sms")
    b = lead_of(ClientFactory(sending_phone=A_PHONE), channel="sms")
    response = twilio_post(client, "twilio-sms-inbound", inbound_sms("STOP", from_phone=PERSON_PHONE, to_phone=A_PHONE))
    assert response.status_code == 200
    assert_untouched(a)
    assert_untouched(b)


# --- Tracking --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "action"), [(delivery, "email_delivered"), (bounce, "email_bounced"), (complaint, "email_complained")]
)
def test_a_tracking_event_for_as_message_never_touches_bs_lead_with_the_same_address(
    client, client_a, client_b, payload, action
):
    a, b = lead_of(client_a), lead_of(client_b)
    assert postmark_tracking(client, payload(a.sent.provider_message_id)).status_code == 200
    (row,) = outcome_rows(a.lead)
    assert (row.action, row.in_reply_to_id, row.client_id) == (action, a.sent.pk, client_a.pk)
    assert_untouched(b)
