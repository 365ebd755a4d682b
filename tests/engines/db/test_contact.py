"""The last look before a send: enrollments' states and their leads' contact fields, on both databases."""

import pytest
from django.db import DatabaseError, connection

from engines.db import contact
from engines.db.contact import CONTACT_FIELDS, LookAhead, contact_states
from outreach.models import Enrollment, Lead
from tests.factories import ScheduledTouchFactory

pytestmark = pytest.mark.django_db


def test_the_enrollment_states_and_the_leads_contact_fields_as_committed_now():
    touch = ScheduledTouchFactory(lead__email="pat@example.com", lead__phone="+61412345678")
    other = ScheduledTouchFactory()
    Lead.objects.filter(pk=touch.lead_id).update(sms_opted_out=True, status="replied")
    Enrollment.objects.filter(pk=touch.enrollment_id).update(state="paused")

    states = contact_states([touch.enrollment_id, other.enrollment_id])

    state, fields = states[touch.enrollment_id]
    assert state == "paused" and states[other.enrollment_id][0] == "active"
    assert set(fields) == set(CONTACT_FIELDS)
    assert (fields["client_id"], fields["status"], fields["email"]) == (touch.client_id, "replied", "pat@example.com")
    assert bool(fields["sms_opted_out"]) is True and bool(fields["do_not_contact"]) is False
    assert states[other.enrollment_id][1]["client_id"] == other.client_id


def test_every_field_it_reads_is_a_lead_field():
    assert set(CONTACT_FIELDS) <= {field.attname for field in Lead._meta.concrete_fields}


def test_an_enrollment_gone_with_its_lead_is_left_out_and_none_asked_reads_nothing(django_assert_num_queries):
    touch = ScheduledTouchFactory()
    Lead.objects.filter(pk=touch.lead_id).delete()
    assert contact_states([touch.enrollment_id]) == {}
    with django_assert_num_queries(0):
        assert contact_states([]) == {}


@pytest.mark.django_db(transaction=True)
def test_a_look_sent_ahead_answers_as_contact_states_with_what_committed_before_it_was_sent():
    touch, other = ScheduledTouchFactory(), ScheduledTouchFactory()
    ahead = LookAhead.open()
    if connection.vendor != "postgresql":  # SQLite reads cost no round trip: nothing is sent ahead
        assert ahead is None
        return
    assert ahead is not None
    try:
        ids = [touch.enrollment_id, other.enrollment_id]
        ahead.send(ids)
        assert ahead.receive(ids) == contact_states(ids)
        Lead.objects.filter(pk=touch.lead_id).update(is_unsubscribed=True)
        Enrollment.objects.filter(pk=other.enrollment_id).update(state="paused")
        ahead.send(ids)
        answer = ahead.receive(ids)
        assert answer == contact_states(ids)
        assert answer[touch.enrollment_id][1]["is_unsubscribed"] is True and answer[other.enrollment_id][0] == "paused"
        # An answer for other enrollments, or none sent: the caller reads itself.
        ahead.send([other.enrollment_id])
        assert ahead.receive(ids) is None
        assert ahead.receive(ids) is None
    finally:
        ahead.close()


@pytest.mark.django_db
def test_inside_a_transaction_nothing_is_sent_ahead():
    """Another connection would not see the transaction's rows."""
    assert LookAhead.open() is None


@pytest.mark.django_db(transaction=True)
def test_a_look_that_fails_raises_a_database_error_and_the_next_one_works():
    touch = ScheduledTouchFactory()
    ahead = LookAhead.open()
    if ahead is None:
        assert connection.vendor != "postgresql"
        return
    try:
        ahead.send([2**63])  # out of bigint's range: the server refuses the look
        with pytest.raises(DatabaseError, match="the last look failed"):
            ahead.receive([2**63])
        ahead.send([touch.enrollment_id])
        assert ahead.receive([touch.enrollment_id]) == contact_states([touch.enrollment_id])
    finally:
        ahead.close()


@pytest.mark.django_db(transaction=True)
def test_a_look_the_server_cannot_prepare_opens_nothing_and_closes_its_connection(monkeypatch):
    """PostgreSQL answers a refused PREPARE with a result, not an error: open must read it, give None (the caller
    reads each look itself) and close the connection it made."""
    if connection.vendor != "postgresql":
        assert LookAhead.open() is None
        return
    opened = []
    make = connection.get_new_connection

    def recorded(params):
        opened.append(make(params))
        return opened[-1]

    monkeypatch.setattr(connection, "get_new_connection", recorded)
    monkeypatch.setattr(contact, "_select", lambda vendor: "SELECT no_such_column FROM no_such_table WHERE id IN ")

    assert LookAhead.open() is None
    assert len(opened) == 1 and opened[0].closed
