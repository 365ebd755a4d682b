"""Email from a mailbox: its From header and ESP account (the real anymail backend, its HTTP layer faked), the
same as before for a client without mailboxes, replies matched to the mailbox written to, the dry run's
reasons, and a mailbox's cap held across two dispatchers on PostgreSQL."""

import threading
import uuid
from datetime import datetime, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import requests
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from engines.exceptions import ProviderError
from engines.services.outcomes.attribution import email_reply
from engines.services.sending import email
from engines.services.sending.dispatcher import dispatch_due_touches
from engines.services.sending.outbox import deliver_touch
from outreach.models import Activity, Enrollment, ScheduledTouch
from tests.engines.dispatch_support import two_dispatchers_at_once
from tests.engines.providers.fakes import FakeEspHttp, http_response
from tests.factories import (
    ActivityFactory,
    ClientFactory,
    EnrollmentFactory,
    LeadFactory,
    MailboxFactory,
    MessageTemplateFactory,
    ScheduledTouchFactory,
)

pytestmark = pytest.mark.django_db

SYDNEY = ZoneInfo("Australia/Sydney")
# Wednesday 4 March 2026, 10:30 in Sydney: a working day, inside Australian contact hours.
NOW = datetime(2026, 3, 4, 10, 30, tzinfo=SYDNEY)
MAILGUN = "anymail.backends.mailgun.EmailBackend"


@pytest.fixture(autouse=True)
def backends(settings, monkeypatch):
    """The default backend is anymail's test one; the account "mg2" is Mailgun, its key in the environment."""
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    settings.OUTREACH_MAILBOX_ACCOUNTS = {
        "mg2": {"backend": MAILGUN, "options": {"api_key_env": "MAILGUN_KEY_2", "sender_domain": "mg.acme.example"}}
    }
    monkeypatch.setenv("MAILGUN_KEY_2", "key-two")
    monkeypatch.setattr(email, "_account_connections", threading.local())  # no connection kept between tests
    monkeypatch.setattr(email, "_open_accounts", [])
    mail.outbox = []


def mailgun_accepts():
    return http_response(200, {"id": f"<{uuid.uuid4().hex}@mg.acme.example>", "message": "Queued. Thank you."})


def claimed_touch(client, *, mailbox=None, sequence_id=None):
    if not client.message_templates.exists():
        MessageTemplateFactory(client=client, channel="email", touch_number=1, subject="Hi {first_name}")
    lead = LeadFactory(client=client, first_name="Priya")
    enrollment = EnrollmentFactory(lead=lead, client=client, mailbox=mailbox, sequence_id=sequence_id or uuid.uuid4())
    return ScheduledTouchFactory(
        lead=lead, client=client, enrollment=enrollment, sequence_id=enrollment.sequence_id, status="sending",
        scheduled_at=NOW,
    )  # fmt: skip


def test_an_email_goes_from_its_mailbox_through_the_mailbox_account(monkeypatch):
    client = ClientFactory(name="Blue Gum Physio", sending_email="hello@bluegum.example")
    mailbox = MailboxFactory(client=client, address="sam@mg.acme.example", display_name="Sam Lee", account="mg2")
    http = FakeEspHttp([mailgun_accepts()])
    monkeypatch.setattr(requests.Session, "request", http)

    sent = deliver_touch(claimed_touch(client, mailbox=mailbox), now=NOW)

    [call] = http.calls
    assert call["url"] == "https://api.mailgun.net/v3/mg.acme.example/messages"
    assert call["auth"] == ("api", "key-two")
    assert call["data"]["from"] == ["Sam Lee <sam@mg.acme.example>"]
    assert not mail.outbox  # nothing through the default backend
    assert sent.mailbox == mailbox and sent.metadata["from"] == "sam@mg.acme.example"
    assert sent.message_id.endswith("@mg.acme.example")


def test_a_mailbox_without_an_account_uses_the_default_backend_and_the_client_name_without_a_display_name():
    client = ClientFactory(name="Blue Gum Physio")
    mailbox = MailboxFactory(client=client, address="team@bluegum.example", display_name="")

    sent = deliver_touch(claimed_touch(client, mailbox=mailbox), now=NOW)

    [message] = mail.outbox
    assert message.from_email == "Blue Gum Physio <team@bluegum.example>"
    assert sent.mailbox == mailbox


def test_a_client_without_mailboxes_sends_exactly_as_before():
    client = ClientFactory(name="Blue Gum Physio", sending_email="hello@bluegum.example")

    sent = deliver_touch(claimed_touch(client), now=NOW)

    [message] = mail.outbox
    assert message.from_email == "Blue Gum Physio <hello@bluegum.example>"
    assert sent.mailbox is None and sent.message_id.endswith("@bluegum.example")
    assert Enrollment.objects.get().mailbox is None


def test_one_connection_per_account_and_thread_is_opened_once_and_reused():
    first = email.account_connection("mg2")
    assert email.account_connection("mg2") is first
    other: list[object] = []
    thread = threading.Thread(target=lambda: other.append(email.account_connection("mg2")))
    thread.start()
    thread.join()
    assert other[0] is not first


@pytest.mark.parametrize("threads", [1, 3])
def test_a_dispatcher_run_closes_the_account_connections_its_threads_opened(threads, monkeypatch):
    closed: list[object] = []
    backend = email.import_string(MAILGUN)
    monkeypatch.setattr(backend, "close", lambda self: closed.append(self), raising=False)
    client = ClientFactory()
    mailbox = MailboxFactory(client=client, account="mg2")
    touches = [claimed_touch(client, mailbox=mailbox) for _ in range(3)]
    ScheduledTouch.objects.filter(pk__in=[t.pk for t in touches]).update(status="planned", scheduled_at=NOW)
    monkeypatch.setattr(requests.Session, "request", FakeEspHttp([mailgun_accepts() for _ in touches]))

    assert dispatch_due_touches(now=NOW, threads=threads)["sent"] == 3

    assert 1 <= len(closed) <= threads  # each thread's one connection to the account, closed once
    assert len(set(map(id, closed))) == len(closed)
    assert "opened" not in email._account_connections.__dict__  # the next run opens its own


def test_an_account_that_cannot_be_used_is_a_retryable_provider_error_saying_what_to_set(monkeypatch):
    monkeypatch.delenv("MAILGUN_KEY_2")
    client = ClientFactory()
    touch = claimed_touch(client, mailbox=MailboxFactory(client=client, account="mg2"))
    with pytest.raises(ProviderError, match="set the environment variable MAILGUN_KEY_2") as raised:
        deliver_touch(touch, now=NOW)
    assert raised.value.retryable and not Activity.objects.exists()


def test_the_dispatcher_gives_a_new_enrollment_a_mailbox_and_sends_from_it():
    client = ClientFactory()
    mailbox = MailboxFactory(client=client, address="sam@bluegum.example", display_name="Sam")
    touch = claimed_touch(client)
    ScheduledTouch.objects.filter(pk=touch.pk).update(status="planned", scheduled_at=NOW - timedelta(hours=1))

    assert dispatch_due_touches(now=NOW, threads=1)["sent"] == 1

    [message] = mail.outbox
    assert message.from_email == "Sam <sam@bluegum.example>"
    assert Enrollment.objects.get().mailbox == mailbox
    assert Activity.objects.get(action="email_sent").mailbox == mailbox


# --- replies ------------------------------------------------------------------------------------------------


def test_a_reply_to_a_mailbox_finds_its_client_and_the_email_it_answers():
    client = ClientFactory(sending_email="hello@bluegum.example")
    mailbox = MailboxFactory(client=client, address="sam@bluegum-mail.example")
    lead = LeadFactory(client=client, email="priya@dental.example")
    ours = ActivityFactory(lead=lead, client=client, mailbox=mailbox, message_id="abc@bluegum-mail.example")
    ActivityFactory(lead=lead, client=client, created_at=timezone.now() + timedelta(minutes=1))  # a later one

    by_id = email_reply("priya@dental.example", ["sam@bluegum-mail.example"], ["<abc@bluegum-mail.example>"])
    by_address = email_reply("priya@dental.example", ["sam@bluegum-mail.example"], [])

    assert by_id == (lead, ours)
    assert by_address == (lead, ours)
    assert email_reply("priya@dental.example", ["nobody@bluegum-mail.example"], []) == (None, None)


# --- the dry run --------------------------------------------------------------------------------------------


def test_the_dry_run_shows_a_full_mailbox_and_a_paused_one():
    client = ClientFactory()
    MailboxFactory(client=client, daily_cap=1, warmup_start=1)
    paused = MailboxFactory(client=client, state="paused")
    due = timezone.now() - timedelta(hours=2)
    touches = [claimed_touch(client) for _ in range(2)]
    started = claimed_touch(client, mailbox=paused)
    ActivityFactory(lead=started.lead, client=client, mailbox=paused, sequence_id=started.sequence_id)
    ScheduledTouch.objects.update(status="planned", scheduled_at=due)
    out = StringIO()

    call_command("dispatch_due_touches", "--dry-run", stdout=out)

    output = out.getvalue()
    assert output.count("would send") == 1
    assert "mailbox_daily_cap until" in output
    assert f"would wait   touch {started.pk}:" in output and "mailbox_paused until" in output
    assert {t.pk for t in touches} | {started.pk} == set(ScheduledTouch.objects.values_list("pk", flat=True))
    assert set(ScheduledTouch.objects.values_list("status", flat=True)) == {"planned"}
    assert not mail.outbox


# --- across dispatchers -------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_dispatchers_at_once_never_exceed_a_mailbox_cap_together(monkeypatch):
    client = ClientFactory()
    mailbox = MailboxFactory(client=client, daily_cap=3, warmup_start=3)
    touches = [claimed_touch(client) for _ in range(6)]
    ScheduledTouch.objects.update(status="planned", scheduled_at=NOW - timedelta(hours=1))
    if connection.vendor != "postgresql":
        # SQLite has one writer and locks no rows: a second dispatcher counts after the first has written.
        results = [dispatch_due_touches(now=NOW, threads=1, batch_size=3) for _ in range(2)]
        assert [result["sent"] for result in results] == [3, 0]
    else:
        results = two_dispatchers_at_once(monkeypatch, NOW, batch_size=3)
        assert sorted(result["sent"] for result in results) == [0, 3]
    assert len(mail.outbox) == 3
    assert Activity.objects.filter(mailbox=mailbox, action="email_sent").count() == 3
    waiting = ScheduledTouch.objects.filter(pk__in=[t.pk for t in touches], status="planned")
    assert set(waiting.values_list("reason", flat=True)) == {"mailbox_daily_cap"}


def due_emails(client, mailboxes, count):
    """`count` due first emails of new leads of `client`, with half of their enrollments on a mailbox already."""
    MessageTemplateFactory(client=client, channel="email", touch_number=1, subject="Hi {first_name}")
    for i in range(count):
        lead = LeadFactory(client=client, first_name="Priya", email=f"priya{i}@firm{i}.example")
        mailbox = mailboxes[i % len(mailboxes)] if i % 2 else None
        enrollment = EnrollmentFactory(lead=lead, client=client, mailbox=mailbox)
        ScheduledTouchFactory(
            lead=lead, client=client, enrollment=enrollment, sequence_id=enrollment.sequence_id,
            scheduled_at=NOW - timedelta(minutes=5),
        )  # fmt: skip


@pytest.mark.parametrize("count", [4, 24])
def test_a_run_reads_and_writes_the_same_number_of_times_whatever_its_number_of_emails(count):
    """No query per touch (a field the claim left unread, a mailbox or a lead read one by one): a run of 4
    emails and one of 24, each started together on free threads, make the same queries, but for SQLite's claim
    (one conditional UPDATE a touch, by design)."""
    counts = {}
    for size in (4, count):
        client = ClientFactory(daily_email_limit=1000, daily_emails_per_company=3)
        mailboxes = [MailboxFactory(client=client, address=f"sam{i}.{size}@mg.acme.example") for i in range(2)]
        due_emails(client, mailboxes, size)
        with CaptureQueriesContext(connection) as queries:
            assert dispatch_due_touches(now=NOW, threads=32, client_ids=[client.pk])["sent"] == size
        counts[size] = len(queries)
    claims_one_by_one = count - 4 if connection.vendor == "sqlite" else 0
    assert counts[count] == counts[4] + claims_one_by_one
