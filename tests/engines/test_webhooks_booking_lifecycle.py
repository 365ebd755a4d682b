"""A meeting's life after the booking, signed as Cal.com signs it, through the real URL: requested, rescheduled,
cancelled, the settings page's ping, and one client per event."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from engines.services.learning.evidence import CONVERTED, load_evidence
from outreach.models import Activity, ManualTask, ScheduledTouch
from tests.engines.webhook_support import CAL_SECRET, cal_booking, cal_post, outcome_rows, sequence
from tests.factories import ClientFactory, LeadFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def cal_secret(settings):
    settings.CAL_COM_WEBHOOK_SECRET = CAL_SECRET


def booked(seq, uid="booking-uid-1"):
    payload = cal_booking(seq.lead.email, organizer=seq.lead.client.sending_email, uid=uid)
    assert cal_post(Client(), payload).status_code == 200


def event(seq, trigger, uid="booking-uid-1", **fields):
    payload = cal_booking(seq.lead.email, organizer=seq.lead.client.sending_email, uid=uid, trigger=trigger)
    payload["payload"].update(fields)
    return payload


def learning_counts_a_booking(lead) -> bool:
    evidence = load_evidence(lead.client, now=timezone.now() + timedelta(minutes=1))
    (index,) = [i for i, pk in enumerate(evidence.lead_ids) if pk == lead.pk]
    return bool(evidence.t_booked.any()) or int(evidence.lead_state[index]) == CONVERTED


def test_a_cancelled_booking_unconverts_the_lead_drops_its_credit_and_asks_a_person_to_follow_up(client):
    seq = sequence()
    booked(seq)
    assert seq.refresh().status == "converted" and learning_counts_a_booking(seq.lead)

    response = cal_post(client, event(seq, "BOOKING_CANCELLED", cancellationReason="Something came up"))

    assert response.status_code == 200
    (booking,) = outcome_rows(seq.lead, "meeting_booked")
    (cancelled,) = outcome_rows(seq.lead, "meeting_cancelled")
    assert cancelled.in_reply_to_id == booking.pk
    assert cancelled.provider_event_id == "booking_cancelled:booking-uid-1"
    lead = seq.refresh()
    assert (lead.status, lead.converted_at) == ("replied", None)
    assert not Activity.objects.filter(lead=lead, led_to_booking=True).exists()
    assert not learning_counts_a_booking(lead)
    (task,) = ManualTask.objects.filter(lead=lead)
    assert (task.kind, task.status, task.scheduled_touch_id) == ("follow_up", "open", None)
    assert "cancelled" in task.message
    # The sequence stays ended: nothing is planned again by itself.
    assert seq.statuses() == ["cancelled", "cancelled"]
    assert not ScheduledTouch.objects.filter(lead=lead, status__in=["planned", "waiting", "sending"]).exists()

    # A replayed cancellation stores nothing and opens no second task.
    assert cal_post(client, event(seq, "BOOKING_CANCELLED")).status_code == 200
    assert len(outcome_rows(seq.lead, "meeting_cancelled")) == 1
    assert ManualTask.objects.filter(lead=lead).count() == 1


def test_a_cancelled_booking_leaves_the_lead_converted_while_another_meeting_stands(client):
    seq = sequence()
    booked(seq, uid="first")
    booked(seq, uid="second")

    assert cal_post(client, event(seq, "BOOKING_CANCELLED", uid="first")).status_code == 200

    lead = seq.refresh()
    assert lead.status == "converted" and lead.converted_at is not None
    assert set(Activity.objects.filter(led_to_booking=True).values_list("pk", flat=True)) == {seq.sent.pk}
    assert learning_counts_a_booking(lead)
    assert not ManualTask.objects.filter(lead=lead).exists()


def test_a_rescheduled_booking_moves_the_meeting_and_keeps_the_lead_converted(client):
    seq = sequence()
    booked(seq, uid="original")
    new_start = (timezone.now() + timedelta(days=10)).isoformat()
    moved = event(seq, "BOOKING_RESCHEDULED", uid="moved", rescheduleUid="original", startTime=new_start)

    assert cal_post(client, moved).status_code == 200
    assert cal_post(client, moved).status_code == 200  # a replay

    (booking,) = outcome_rows(seq.lead, "meeting_booked")
    (rescheduled,) = outcome_rows(seq.lead, "meeting_rescheduled")
    assert rescheduled.in_reply_to_id == booking.pk
    assert rescheduled.metadata["previous_uid"] == "original"
    assert booking.metadata["start"] == new_start and booking.metadata["rescheduled_to"] == "moved"
    assert seq.refresh().status == "converted"

    # Cancelling the meeting by its new uid cancels the meeting booked under the old one.
    assert cal_post(client, event(seq, "BOOKING_CANCELLED", uid="moved")).status_code == 200
    (cancelled,) = outcome_rows(seq.lead, "meeting_cancelled")
    assert cancelled.in_reply_to_id == booking.pk
    assert seq.refresh().status == "replied"


def test_a_reschedule_of_a_booking_never_heard_of_is_a_booking(client):
    seq = sequence()
    moved = event(seq, "BOOKING_RESCHEDULED", uid="moved", rescheduleUid="made-before-the-webhook")
    assert cal_post(client, moved).status_code == 200
    (booking,) = outcome_rows(seq.lead, "meeting_booked")
    assert booking.provider_event_id == "booking_rescheduled:moved"
    assert seq.refresh().status == "converted"


def test_a_requested_booking_is_recorded_without_converting(client):
    seq = sequence()
    assert cal_post(client, event(seq, "BOOKING_REQUESTED", status="PENDING")).status_code == 200
    assert cal_post(client, event(seq, "BOOKING_REQUESTED", status="PENDING")).status_code == 200
    (requested,) = outcome_rows(seq.lead)
    assert (requested.action, requested.in_reply_to_id) == ("meeting_requested", seq.sent.pk)
    assert seq.refresh().status == "in_sequence" and seq.lead.converted_at is None
    assert seq.statuses() == ["planned", "planned"]
    assert not learning_counts_a_booking(seq.lead)

    # The host confirms: Cal.com sends the booking with the same uid, and it converts.
    assert cal_post(client, event(seq, "BOOKING_CREATED")).status_code == 200
    assert seq.refresh().status == "converted"


def test_the_ping_test_answers_200_and_stores_nothing(client):
    seq = sequence()
    ping = {
        "triggerEvent": "PING",
        "createdAt": timezone.now().isoformat(),
        "payload": {
            "type": "Test",
            "title": "Test trigger event",
            "description": "",
            "startTime": timezone.now().isoformat(),
            "endTime": timezone.now().isoformat(),
            "organizer": {"name": "Cal", "email": "", "timeZone": "Europe/London"},
        },
    }
    response = cal_post(client, ping)
    assert response.status_code == 200 and response.json()["status"] == "pong"
    assert cal_post(client, {"triggerEvent": "PING", "payload": {}}).status_code == 200
    assert outcome_rows(seq.lead) == [] and not ManualTask.objects.exists()


def test_a_booking_organized_by_one_client_never_touches_another_clients_lead(client):
    seq = sequence()  # a lead of client B
    other_client = ClientFactory()  # client A: organizes the meeting, has no lead with that email
    payload = cal_booking(seq.lead.email, organizer=other_client.sending_email)

    assert cal_post(client, payload).status_code == 404
    assert outcome_rows(seq.lead) == [] and seq.refresh().status == "in_sequence"

    booked(seq)  # B's own booking, then A's organizer cancels a meeting of that uid
    cancel = cal_booking(seq.lead.email, organizer=other_client.sending_email, trigger="BOOKING_CANCELLED")
    assert cal_post(client, cancel).status_code == 404
    assert seq.refresh().status == "converted"


def test_the_first_attendee_who_is_a_lead_of_the_organizers_client_booked(client):
    seq = sequence()
    colleague = LeadFactory(client=seq.lead.client)
    payload = cal_booking("someone@elsewhere.example.com", organizer=seq.lead.client.sending_email)
    payload["payload"]["attendees"] += [{"email": seq.lead.email.upper()}, {"email": colleague.email}]
    assert cal_post(client, payload).status_code == 200
    assert seq.refresh().status == "converted"
    colleague.refresh_from_db()
    assert colleague.status != "converted"


def test_a_cancellation_that_arrives_before_its_booking_ends_as_if_they_came_in_order(client):
    seq = sequence()
    assert cal_post(client, event(seq, "BOOKING_CANCELLED")).status_code == 200
    (cancelled,) = outcome_rows(seq.lead, "meeting_cancelled")
    assert cancelled.in_reply_to_id is None  # nothing to answer yet

    booked(seq)

    (booking,) = outcome_rows(seq.lead, "meeting_booked")
    cancelled.refresh_from_db()
    assert cancelled.in_reply_to_id == booking.pk
    lead = seq.refresh()
    assert (lead.status, lead.converted_at) == ("replied", None)
    assert not Activity.objects.filter(lead=lead, led_to_booking=True).exists()
    assert not learning_counts_a_booking(lead)
    (task,) = ManualTask.objects.filter(lead=lead)
    assert task.kind == "follow_up" and "cancelled" in task.message

    booked(seq)  # a replayed booking changes nothing more
    assert seq.refresh().status == "replied" and ManualTask.objects.filter(lead=lead).count() == 1
