"""The last look before a send: enrollments' states and their leads' contact fields, on both databases."""

import pytest

from engines.db.contact import CONTACT_FIELDS, contact_states
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
