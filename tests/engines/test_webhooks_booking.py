"""Bookings: signed Cal.com webhooks through the real URL, and the record_booking command."""

import json
import uuid
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from outreach.models import Activity
from tests.engines.webhook_support import CAL_SECRET, cal_booking, cal_post, cal_signature, outcome_rows, sequence
from tests.factories import ActivityFactory, ClientFactory, LeadFactory, MailboxFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def cal_secret(settings):
    settings.CAL_COM_WEBHOOK_SECRET = CAL_SECRET


def test_a_signed_booking_converts_the_lead_credits_its_sequence_and_cancels_the_rest(client):
    seq = sequence()
    second = ActivityFactory(
        lead=seq.lead,
        action="sms_sent",
        channel="sms",
        touch_number=2,
        sequence_id=seq.sent.sequence_id,
        created_at=timezone.now() - timedelta(days=1),
    )
    older = ActivityFactory(lead=seq.lead, sequence_id=uuid.uuid4(), created_at=timezone.now() - timedelta(days=90))
    payload = cal_booking(seq.lead.email, organizer=seq.lead.client.sending_email)
    response = cal_post(client, payload)
    assert response.status_code == 200
    (booking,) = outcome_rows(seq.lead, "meeting_booked")
    assert (booking.provider, booking.provider_event_id) == ("calcom", "booking_created:booking-uid-1")
    assert (booking.in_reply_to_id, booking.channel) == (second.pk, "sms")  # the last touch before it
    lead = seq.refresh()
    assert lead.status == "converted" and lead.converted_at is not None
    flagged = set(Activity.objects.filter(led_to_booking=True).values_list("pk", flat=True))
    assert flagged == {seq.sent.pk, second.pk}  # this sequence's touches, not the older sequence's
    assert older.pk not in flagged
    assert seq.statuses() == ["cancelled", "cancelled"]


def test_a_replayed_booking_is_stored_once(client):
    seq = sequence()
    payload = cal_booking(seq.lead.email, organizer=seq.lead.client.sending_email)
    assert cal_post(client, payload).status_code == 200
    assert cal_post(client, payload).status_code == 200
    assert len(outcome_rows(seq.lead, "meeting_booked")) == 1


@pytest.mark.parametrize("secret", [None, "not-the-secret"])
def test_an_unsigned_or_wrongly_signed_booking_is_refused(client, secret):
    seq = sequence()
    response = cal_post(client, cal_booking(seq.lead.email), secret=secret)
    assert response.status_code == 403
    assert outcome_rows(seq.lead) == [] and seq.refresh().status == "in_sequence"


def test_a_tampered_body_is_refused(client):
    seq = sequence()
    other = sequence()
    signed = json.dumps(cal_booking(seq.lead.email)).encode()
    tampered = signed.replace(seq.lead.email.encode(), other.lead.email.encode())
    response = client.post(
        reverse("booking-webhook"),
        data=tampered,
        content_type="application/json",
        HTTP_X_CAL_SIGNATURE_256=cal_signature(signed),
    )
    assert response.status_code == 403
    assert outcome_rows(other.lead) == []


def test_without_a_configured_secret_every_booking_is_refused(client, settings):
    settings.CAL_COM_WEBHOOK_SECRET = ""
    seq = sequence()
    response = cal_post(client, cal_booking(seq.lead.email), secret="")
    assert response.status_code == 403
    assert outcome_rows(seq.lead) == []


def test_the_organizer_names_the_client_when_the_attendee_is_a_lead_of_two(client):
    seq = sequence()
    elsewhere = LeadFactory(email=seq.lead.email, client=ClientFactory())
    payload = cal_booking(seq.lead.email.upper(), organizer=elsewhere.client.sending_email)
    assert cal_post(client, payload).status_code == 200
    elsewhere.refresh_from_db()
    assert elsewhere.status == "converted"
    assert seq.refresh().status == "in_sequence"


def test_a_meeting_organized_from_one_of_the_clients_mailboxes_names_that_client(client):
    seq = sequence()
    mailbox = MailboxFactory(client=seq.lead.client, address="sam@mg.acme.example")
    elsewhere = LeadFactory(email=seq.lead.email, client=ClientFactory())
    assert cal_post(client, cal_booking(seq.lead.email, organizer=mailbox.address.upper())).status_code == 200
    assert seq.refresh().status == "converted"
    elsewhere.refresh_from_db()
    assert elsewhere.status != "converted"


def test_an_attendee_is_not_looked_for_beyond_the_organizers_client(client):
    seq = sequence()
    assert cal_post(client, cal_booking(seq.lead.email, organizer="calendar@elsewhere.example.com")).status_code == 404
    assert seq.refresh().status == "in_sequence"


def test_an_ambiguous_or_unknown_attendee_answers_404(client, caplog):
    seq = sequence()
    LeadFactory(email=seq.lead.email, client=ClientFactory())
    assert cal_post(client, cal_booking(seq.lead.email)).status_code == 404
    assert cal_post(client, cal_booking("nobody@nowhere.example.com")).status_code == 404
    assert Activity.objects.filter(action="meeting_booked").count() == 0
    assert "no lead of the organizer's client" in caplog.text


@pytest.mark.parametrize("body", [b"{not json", b"[]", b'{"triggerEvent": "BOOKING_CREATED"}'])
def test_a_signed_but_malformed_body_answers_400(client, body):
    seq = sequence()
    assert cal_post(client, body).status_code == 400
    assert outcome_rows(seq.lead) == []


def test_other_triggers_are_acknowledged_and_ignored(client):
    seq = sequence()
    response = cal_post(client, cal_booking(seq.lead.email, trigger="MEETING_ENDED"))
    assert response.status_code == 200 and response.json()["status"] == "ignored"
    assert outcome_rows(seq.lead) == []


# --- The command ---------------------------------------------------------------------------------------------


def test_the_command_records_a_booking_by_lead_id():
    seq = sequence()
    out = StringIO()
    call_command("record_booking", "--lead", str(seq.lead.pk), "--event-id", "cal-42", stdout=out)
    assert "meeting booked" in out.getvalue()
    assert seq.refresh().status == "converted"
    assert seq.statuses() == ["cancelled", "cancelled"]
    call_command("record_booking", "--lead", str(seq.lead.pk), "--event-id", "cal-42", stdout=StringIO())
    assert len(outcome_rows(seq.lead, "meeting_booked")) == 1


def test_the_command_finds_a_lead_by_email_within_a_client():
    seq = sequence()
    call_command(
        "record_booking",
        "--email",
        seq.lead.email.upper(),
        "--client",
        str(seq.lead.client_id),
        "--at",
        "2026-11-20T10:00:00+11:00",
        stdout=StringIO(),
    )
    (booking,) = outcome_rows(seq.lead, "meeting_booked")
    assert booking.created_at.isoformat() == "2026-11-19T23:00:00+00:00"


@pytest.mark.parametrize(
    "args",
    [
        ["--lead", "999999"],
        ["--email", "nobody@example.com", "--client", "1"],
        [],
        ["--lead", "{lead}", "--at", "soon"],
        ["--lead", "{lead}", "--at", "2026-13-45T10:00"],
        ["--lead", "{lead}", "--at", "2026-03-02T10:00+25:00"],
    ],
)
def test_the_command_says_what_is_wrong(args):
    seq = sequence()
    with pytest.raises(CommandError):
        call_command("record_booking", *[arg.format(lead=seq.lead.pk) for arg in args], stdout=StringIO())
    assert outcome_rows(seq.lead) == []


def test_the_command_has_help(capsys):
    with pytest.raises(SystemExit):
        call_command("record_booking", "--help")
    assert "meeting booked" in capsys.readouterr().out
