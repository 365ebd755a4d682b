"""The daily cap per recipient company: no more than `Client.daily_emails_per_company` emails a day into one
company (one email domain; each address at a public mail provider alone). The surplus waits for the next day,
never dropped; two dispatchers on PostgreSQL never exceed it together."""

from datetime import datetime, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import IntegrityError, connection
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from engines.providers.sms import RecordingSmsProvider
from engines.rules.email_domains import email_company
from engines.services.sending.dispatcher import dispatch_due_touches, preview_due_touches
from outreach.models import Client, Lead, ScheduledTouch
from tests.engines.dispatch_support import two_dispatchers_at_once
from tests.factories import ActivityFactory, ClientFactory, LeadFactory, MessageTemplateFactory, ScheduledTouchFactory
from tests.outreach.test_admin_client import _form

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("test_providers")]

SYDNEY = ZoneInfo("Australia/Sydney")
# Wednesday 4 March 2026, 10:30 in Sydney: a working day, inside Australian contact hours.
NOW = datetime(2026, 3, 4, 10, 30, tzinfo=SYDNEY)


def due_touch(client, email, *, channel="email", at=NOW - timedelta(hours=2)):
    """A planned touch of a Sydney lead at `email`, due at `at`, with a template for its channel."""
    if not client.message_templates.filter(channel=channel).exists():
        MessageTemplateFactory(client=client, channel=channel, touch_number=1, subject="Hi {first_name}")
    lead = LeadFactory(client=client, email=email)
    return ScheduledTouchFactory(lead=lead, client=client, channel=channel, scheduled_at=at)


def to_acme(client, count, *, start=0, **kwargs):
    return [due_touch(client, f"person{start + i}@acme.example", **kwargs) for i in range(count)]


def reloaded(touch):
    return ScheduledTouch.objects.get(pk=touch.pk)


@pytest.mark.parametrize(
    ("email", "company"),
    [
        ("Ana@Acme.COM", "acme.com"),
        (" ben@acme.com ", "acme.com"),
        ("Kim.Lee@GMail.com", "kim.lee@gmail.com"),
        ("jo@outlook.com", "jo@outlook.com"),
        ("", ""),
        ("no-at-sign", ""),
    ],
)
def test_the_company_of_an_address_is_its_domain_or_the_address_itself_at_a_public_provider(email, company):
    assert email_company(email) == company


ADDRESSES = st.builds(
    lambda space, local, domain, upper: f"{space}{local}@{domain.upper() if upper else domain}{space}",
    st.sampled_from(["", " "]),
    st.from_regex(r"[a-z0-9][a-z0-9._+-]{0,10}", fullmatch=True),
    st.sampled_from(["acme.com", "mail.acme.co.uk", "gmail.com", "yahoo.com.au", "outlook.com", "xn--bcher-kva.de"]),
    st.booleans(),
)


@hypothesis_settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    emails=st.lists(
        ADDRESSES | st.sampled_from(["", "no-at-sign", "@acme.com"]),
        min_size=1,
        max_size=6,
        unique_by=lambda email: email.strip().lower() or None,
    )
)
def test_the_database_writes_each_leads_company_as_the_rule_reads_it_however_the_lead_is_saved(emails):
    client = ClientFactory()
    saved = [LeadFactory(client=client, email=email) for email in emails[:1]]
    bulk = Lead.objects.bulk_create(Lead(client=client, email=email) for email in emails[1:] if email)
    for lead in [*saved, *bulk]:
        assert Lead.objects.get(pk=lead.pk).email_company == email_company(lead.email), lead.email
    Lead.objects.filter(pk=saved[0].pk).update(email="New.Person@Acme.com")  # an update rewrites it too
    assert Lead.objects.get(pk=saved[0].pk).email_company == "acme.com"
    client.delete()


def test_five_emails_into_one_company_send_three_and_the_rest_wait_for_the_next_day():
    client = ClientFactory()  # the default cap: 3
    touches = to_acme(client, 5)

    counts = dispatch_due_touches(now=NOW)

    assert (counts["sent"], counts["deferred"]) == (3, 2)
    assert len(mail.outbox) == 3
    waiting = [reloaded(t) for t in touches[3:]]
    assert all(t.status == "planned" and t.reason == "company_daily_cap" for t in waiting)
    # The same local time of day, on the next day.
    assert [t.scheduled_at for t in waiting] == [t.scheduled_at + timedelta(days=1) for t in touches[3:]]

    assert dispatch_due_touches(now=NOW + timedelta(hours=2))["sent"] == 0
    assert dispatch_due_touches(now=NOW + timedelta(days=1))["sent"] == 2
    assert len(mail.outbox) == 5


def test_the_cap_is_per_client_per_company_and_its_surplus_does_not_spend_the_daily_limit():
    client = ClientFactory(daily_email_limit=4, daily_emails_per_company=2)
    acme = to_acme(client, 3, at=NOW - timedelta(hours=3))
    beta = [due_touch(client, f"person{i}@beta.example", at=NOW - timedelta(hours=2)) for i in range(2)]
    other_client = to_acme(ClientFactory(daily_emails_per_company=2), 2)

    counts = dispatch_due_touches(now=NOW)

    assert (counts["sent"], counts["deferred"]) == (6, 1)
    assert [reloaded(t).status for t in acme] == ["sent", "sent", "planned"]
    assert reloaded(acme[2]).reason == "company_daily_cap"
    assert {reloaded(t).status for t in beta + other_client} == {"sent"}


def test_the_daily_limit_speaks_first_when_both_are_used_up():
    client = ClientFactory(daily_email_limit=1, daily_emails_per_company=1)
    first, second = to_acme(client, 2)

    decisions = {d.touch.pk: d for d in preview_due_touches(now=NOW)}

    assert decisions[first.pk].action == "send"
    assert (decisions[second.pk].action, decisions[second.pk].reason) == ("defer", "daily_limit")


def test_different_people_at_a_public_mail_provider_are_not_one_company():
    client = ClientFactory(daily_emails_per_company=1)
    touches = [due_touch(client, f"someone{i}@gmail.com") for i in range(4)]
    ActivityFactory(lead=LeadFactory(client=client, email="earlier@gmail.com"), created_at=NOW - timedelta(hours=1))

    assert dispatch_due_touches(now=NOW)["sent"] == 4
    assert {reloaded(t).status for t in touches} == {"sent"}


def test_an_address_at_a_public_mail_provider_is_capped_alone():
    client = ClientFactory(daily_emails_per_company=1)
    lead = LeadFactory(client=client, email="Kim.Lee@Gmail.com")
    ActivityFactory(lead=lead, created_at=NOW - timedelta(hours=1))
    MessageTemplateFactory(client=client, channel="email", touch_number=1)
    touch = ScheduledTouchFactory(lead=lead, client=client, channel="email", scheduled_at=NOW - timedelta(hours=2))

    [decision] = preview_due_touches(now=NOW)

    assert (decision.touch.pk, decision.action, decision.reason) == (touch.pk, "defer", "company_daily_cap")


def test_a_cap_of_zero_is_no_cap():
    client = ClientFactory(daily_emails_per_company=0)
    touches = to_acme(client, 5)

    assert dispatch_due_touches(now=NOW)["sent"] == 5
    assert {reloaded(t).status for t in touches} == {"sent"}


def test_emails_sent_or_being_sent_earlier_today_count_and_others_do_not():
    client = ClientFactory(daily_emails_per_company=3)
    # Today, into the company (the lead's address in any case): counts.
    ActivityFactory(lead=LeadFactory(client=client, email="Kim@ACME.example"), created_at=NOW - timedelta(hours=1))
    claimed = to_acme(client, 1, start=100, at=NOW - timedelta(hours=4))[0]
    ScheduledTouch.objects.filter(pk=claimed.pk).update(status="sending", claimed_at=NOW - timedelta(minutes=1))
    # Yesterday, another channel, another client, another company: do not count.
    ActivityFactory(lead=LeadFactory(client=client, email="old@acme.example"), created_at=NOW - timedelta(days=1))
    ActivityFactory(
        lead=LeadFactory(client=client, email="text@acme.example"),
        action="sms_sent",
        channel="sms",
        created_at=NOW - timedelta(hours=1),
    )
    ActivityFactory(lead=LeadFactory(email="them@acme.example"), created_at=NOW - timedelta(hours=1))
    ActivityFactory(lead=LeadFactory(client=client, email="x@elsewhere.example"), created_at=NOW - timedelta(hours=1))
    touches = to_acme(client, 3)

    counts = dispatch_due_touches(now=NOW)

    assert (counts["sent"], counts["deferred"]) == (1, 2)
    assert [reloaded(t).status for t in touches] == ["sent", "planned", "planned"]


def test_texts_and_calls_into_the_company_are_not_capped():
    client = ClientFactory(daily_emails_per_company=1)
    emails = to_acme(client, 2)
    texts = to_acme(client, 3, start=10, channel="sms")

    counts = dispatch_due_touches(now=NOW)

    assert (counts["sent"], counts["deferred"]) == (4, 1)
    assert len(RecordingSmsProvider.outbox) == 3 and len(mail.outbox) == 1
    assert {reloaded(t).status for t in texts} == {"sent"}
    assert reloaded(emails[1]).reason == "company_daily_cap"


def test_the_dry_run_says_the_company_cap_holds_a_touch():
    client = ClientFactory(daily_emails_per_company=1)
    going, waiting = to_acme(client, 2, at=timezone.now() - timedelta(hours=2))
    out = StringIO()

    call_command("dispatch_due_touches", "--dry-run", stdout=out)

    output = out.getvalue()
    assert f"would send   touch {going.pk}:" in output
    assert f"would wait   touch {waiting.pk}:" in output and "company_daily_cap until" in output
    assert set(ScheduledTouch.objects.values_list("status", flat=True)) == {"planned"}
    assert not mail.outbox


def test_the_database_refuses_a_cap_above_a_thousand():
    client = ClientFactory(daily_emails_per_company=1000)
    with pytest.raises(IntegrityError):
        Client.objects.filter(pk=client.pk).update(daily_emails_per_company=1001)


@pytest.mark.django_db(transaction=True)
def test_two_dispatchers_at_once_never_exceed_the_cap_together(monkeypatch):
    client = ClientFactory(daily_emails_per_company=3)
    touches = to_acme(client, 6)
    if connection.vendor != "postgresql":
        # SQLite has one writer and locks no rows: a second dispatcher counts after the first has written.
        results = [dispatch_due_touches(now=NOW, threads=1, batch_size=3) for _ in range(2)]
        assert [result["sent"] for result in results] == [3, 0]
        assert len(mail.outbox) == 3
        assert {reloaded(t).reason for t in touches if reloaded(t).status == "planned"} == {"company_daily_cap"}
        return
    results = two_dispatchers_at_once(monkeypatch, NOW, batch_size=3)

    assert sorted(result["sent"] for result in results) == [0, 3]
    assert sorted(result["deferred"] for result in results) == [0, 3]
    assert len(mail.outbox) == 3
    statuses = [reloaded(t) for t in touches]
    assert sum(t.status == "sent" for t in statuses) == 3
    assert {t.reason for t in statuses if t.status == "planned"} == {"company_daily_cap"}


def test_the_admin_edits_the_cap_and_refuses_one_above_a_thousand(admin_client):
    client = ClientFactory()
    change = reverse("admin:outreach_client_change", args=[client.pk])
    page = admin_client.get(change).content.decode()
    assert 'name="daily_emails_per_company"' in page

    assert admin_client.post(change, _form(client, daily_emails_per_company=5)).status_code == 302
    response = admin_client.post(change, _form(client, daily_emails_per_company=1001))

    assert response.status_code == 200
    assert "At most 1000 emails a day into one company" in str(response.context["adminform"].form.errors)
    client.refresh_from_db()
    assert client.daily_emails_per_company == 5
