"""The last look before a send: a touch's enrollment state and its lead's contact fields, on both databases."""

import pytest

from engines.db.contact import CONTACT_FIELDS, contact_state
from outreach.models import Enrollment, Lead
from tests.factories import ScheduledTouchFactory

pytestmark = pytest.mark.django_db


def test_the_enrollment_state_and_the_leads_contact_fields_as_committed_now():
    touch = ScheduledTouchFactory(lead__email="pat@example.com", lead__phone="+61412345678")
    Lead.objects.filter(pk=touch.lead_id).update(sms_opted_out=True, status="replied")
    Enrollment.objects.filter(pk=touch.enrollment_id).update(state="paused")

    state, fields = contact_state(touch)

    assert state == "paused"
    assert set(fields) == set(CONTACT_FIELDS)
    assert (fields["client_id"], fields["status"], fields["email"]) == (touch.client_id, "replied", "pat@example.com")
    assert bool(fields["sms_opted_out"]) is True and bool(fields["do_not_contact"]) is False


def test_every_field_it_reads_is_a_lead_field():
    assert set(CONTACT_FIELDS) <= {field.attname for field in Lead._meta.concrete_fields}


def test_none_once_the_lead_is_gone():
    touch = ScheduledTouchFactory()
    Lead.objects.filter(pk=touch.lead_id).delete()
    assert contact_state(touch) is None
