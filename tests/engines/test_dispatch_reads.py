"""The claim leaves fields of a touch, its lead and its enrollment unread (dispatcher._UNREAD); a run that used
one anyway would read it back one query per touch. Every path a claimed touch can take is run here with such
reads recorded, so a new use of an unread field fails here rather than slowing every send."""

from datetime import timedelta

import pytest
from django.db.models.query_utils import DeferredAttribute

from engines.services.sending.dispatcher import dispatch_due_touches, preview_due_touches
from outreach.models import Enrollment, Lead, ScheduledTouch
from tests.engines.test_dispatch import NOW, due_touch
from tests.factories import ClientFactory, MailboxFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("test_providers")]


@pytest.fixture
def deferred_reads(monkeypatch):
    """(model, field) of every field of a touch, lead or enrollment loaded on first use, as a run reads them."""
    reads = []
    load = DeferredAttribute.__get__

    def recorded(self, instance, cls=None):
        if instance is not None and self.field.attname not in instance.__dict__:
            if isinstance(instance, ScheduledTouch | Lead | Enrollment):
                reads.append((type(instance).__name__, self.field.attname))
        return load(self, instance, cls)

    monkeypatch.setattr(DeferredAttribute, "__get__", recorded)
    return reads


def test_no_path_of_a_run_reads_a_field_the_claim_left_unread(deferred_reads):
    client = ClientFactory(daily_email_limit=2)
    MailboxFactory(client=client, address="sam@mg.acme.example")
    sent = [due_touch(client=client, channel=channel) for channel in ("email", "sms", "linkedin", "voice")]
    over_the_limit = [due_touch(client=client, at=NOW - timedelta(minutes=m)) for m in (2, 1)]
    unsubscribed = due_touch(client=client, is_unsubscribed=True)
    missing_name = due_touch(client=client, channel="sms", first_name="")

    assert preview_due_touches(now=NOW)
    counts = dispatch_due_touches(now=NOW)

    # Two emails (the daily limit) and the text go, a person is given the LinkedIn and the call touch.
    assert (counts["sent"], counts["waiting"], counts["deferred"], counts["blocked"]) == (3, 2, 1, 2)
    assert [ScheduledTouch.objects.get(pk=t.pk).status for t in sent] == ["sent", "sent", "waiting", "waiting"]
    assert ScheduledTouch.objects.get(pk=over_the_limit[1].pk).reason == "daily_limit"
    assert ScheduledTouch.objects.get(pk=unsubscribed.pk).status == "blocked"
    assert ScheduledTouch.objects.get(pk=missing_name.pk).status == "blocked"
    assert deferred_reads == []


def test_the_recorder_sees_a_field_read_on_first_use(deferred_reads):
    """The fixture's own check: a field left unread and then used is recorded."""
    touch = due_touch()
    lead = Lead.objects.defer("title").get(pk=touch.lead_id)

    assert lead.title is not None
    assert deferred_reads == [("Lead", "title")]
