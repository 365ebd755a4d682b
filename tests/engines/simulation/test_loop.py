"""The demo's closed loop, small: sends only through the dispatcher, answers only through the webhook views,
learning that finds the planted truth and raises the booking rate, a report with its charts."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core import mail

from engines.services.dispatch import dispatch_due_touches, preview_due_touches
from outreach.models import ScheduledTouch
from tests.factories import ClientFactory, LeadFactory, MessageTemplateFactory, ScheduledTouchFactory

pytestmark = pytest.mark.django_db

SYDNEY = ZoneInfo("Australia/Sydney")
# Wednesday 4 March 2026, 10:30 in Sydney: inside contact hours.
NOW = datetime(2026, 3, 4, 10, 30, tzinfo=SYDNEY)


def due_email(client):
    MessageTemplateFactory(client=client, channel="email", touch_number=1, subject="Hi {first_name}")
    lead = LeadFactory(client=client)
    return ScheduledTouchFactory(lead=lead, client=client, scheduled_at=NOW - timedelta(hours=1))


def test_dispatch_limited_to_some_clients_leaves_the_others_touches_planned(settings):
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    mail.outbox = []
    ours, theirs = due_email(ClientFactory()), due_email(ClientFactory())

    preview = preview_due_touches(now=NOW, client_ids=[ours.client_id])
    assert [decision.touch.pk for decision in preview] == [ours.pk]

    counts = dispatch_due_touches(now=NOW, client_ids=[ours.client_id])

    assert counts["sent"] == 1
    assert [message.to for message in mail.outbox] == [[ours.lead.email]]
    assert ScheduledTouch.objects.get(pk=ours.pk).status == "sent"
    assert ScheduledTouch.objects.get(pk=theirs.pk).status == "planned"
    # Without the filter the run sends every client's due touches, as before.
    assert dispatch_due_touches(now=NOW)["sent"] == 1
    assert ScheduledTouch.objects.get(pk=theirs.pk).status == "sent"
