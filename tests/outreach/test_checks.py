"""The start-up warning about sending domains (outreach/checks.py): with DEBUG off, clients whose domain was never
checked (W001) or whose last check did not pass (W002); nothing when the database has no tables yet."""

from __future__ import annotations

import pytest
from django.core import checks
from django.db import connection

from outreach.checks import NAMED, sending_domains
from tests.factories import ClientFactory, DomainCheckFactory, MailboxFactory
from tests.outreach.test_settings import run

pytestmark = pytest.mark.django_db

SEED = """
import django
django.setup()
from tests.factories import ClientFactory
ClientFactory(name="Acme", sending_email="sam@acme.example")
"""


def database_checks() -> list[checks.CheckMessage]:
    return checks.run_checks(tags=[checks.Tags.database], databases=["default"])


def ours(messages: list[checks.CheckMessage]) -> dict[str, checks.CheckMessage]:
    return {message.id: message for message in messages if message.id and message.id.startswith("outreach.")}


def test_domains_never_checked_and_checks_that_failed_are_warned_about(settings):
    settings.DEBUG = False
    ClientFactory(name="Never Co", sending_email="sam@never.example")
    DomainCheckFactory(client=ClientFactory(name="Passing Co"))
    DomainCheckFactory(client=ClientFactory(name="Failing Co", sending_email="sam@failing.example"), dkim_status="fail")
    ClientFactory(name="Silent Co", sending_email="")

    found = ours(database_checks())

    assert set(found) == {"outreach.W001", "outreach.W002"}
    never, failing = found["outreach.W001"], found["outreach.W002"]
    assert never.level == failing.level == checks.WARNING
    assert never.msg == "1 client sends from a domain never checked for SPF, DKIM and DMARC: Never Co (never.example)."
    assert "python manage.py check_domains" in never.hint and "Check sending domains (SPF, DKIM, DMARC)" in never.hint
    assert failing.msg == "The last sending-domain check of 1 client did not pass: Failing Co (failing.example: DKIM)."


def test_nothing_to_say_when_every_domain_passed(settings):
    settings.DEBUG = False
    DomainCheckFactory(client=ClientFactory(), spf_status="warn")
    assert ours(database_checks()) == {}


def test_long_lists_are_cut(settings):
    settings.DEBUG = False
    ClientFactory.create_batch(NAMED + 3)
    (warning,) = ours(database_checks()).values()
    assert warning.msg.startswith(f"{NAMED + 3} clients send from a domain never checked")
    assert warning.msg.endswith(" and 3 more.")


def test_no_warning_in_development_or_without_the_database(settings):
    ClientFactory()
    settings.DEBUG = True
    assert ours(database_checks()) == {}
    settings.DEBUG = False
    assert sending_domains(databases=None) == []
    # Like every check that reads the database, it runs only when asked to (migrate, check --database default).
    assert ours(checks.run_checks()) == {}


def test_a_missing_table_gives_no_warning_and_spoils_no_transaction(settings):
    settings.DEBUG = False
    client = ClientFactory()
    with connection.cursor() as cursor:  # undone with the test's transaction, on both databases
        cursor.execute("DROP TABLE outreach_domaincheck")

    assert sending_domains(databases=["default"]) == []
    assert ClientFactory().pk > client.pk  # the transaction goes on


def test_migrate_on_an_empty_database_and_then_the_warning_from_a_shell(tmp_path):
    database = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    production_like = {"DATABASE_URL": database, "DEBUG": "false"}

    migrated = run(["manage.py", "migrate", "--verbosity", "0"], **production_like)
    assert migrated.returncode == 0, migrated.stderr
    assert migrated.stderr == ""
    seeded = run(["-c", SEED], **production_like)
    assert seeded.returncode == 0, seeded.stderr

    checked = run(["manage.py", "check", "--database", "default"], **production_like)

    assert checked.returncode == 0, checked.stderr
    assert "(outreach.W001) 1 client sends from a domain never checked for SPF, DKIM and DMARC: Acme" in checked.stderr
    assert "outreach.W001" not in run(["manage.py", "check", "--database", "default"], DATABASE_URL=database).stderr


ACCOUNTS = {
    "mg2": {"backend": "anymail.backends.mailgun.EmailBackend", "options": {"api_key_env": "MAILGUN_KEY_2"}},
    "plain": {"backend": "anymail.backends.test.EmailBackend", "options": {}},
}


def test_mailboxes_whose_account_is_unknown_or_misses_its_secret_are_warned_about(settings, monkeypatch):
    settings.DEBUG = False
    settings.OUTREACH_MAILBOX_ACCOUNTS = ACCOUNTS
    monkeypatch.delenv("MAILGUN_KEY_2", raising=False)
    client = ClientFactory()
    DomainCheckFactory(client=client)
    MailboxFactory(client=client, address="sam@mg.acme.example", account="mg2")
    MailboxFactory(client=client, address="ops@acme.example", account="gone")
    MailboxFactory(client=client, address="ok@acme.example", account="plain")
    MailboxFactory(client=client, address="default@acme.example", account="")
    MailboxFactory(client=client, address="old@acme.example", account="gone", state="retired")

    (warning,) = ours(database_checks()).values()

    assert (warning.id, warning.level) == ("outreach.W003", checks.WARNING)
    assert warning.msg.startswith("2 mailboxes cannot send: ops@acme.example (no ESP account 'gone' in ")
    assert "sam@mg.acme.example (ESP account 'mg2': set the environment variable MAILGUN_KEY_2" in warning.msg
    assert "environment of the web server and the qcluster workers" in warning.hint

    monkeypatch.setenv("MAILGUN_KEY_2", "key-two")
    (warning,) = ours(database_checks()).values()
    assert warning.msg.startswith("1 mailbox cannot send: ops@acme.example")


def test_no_mailbox_warning_with_debug_on(settings):
    settings.DEBUG = True
    MailboxFactory(account="gone")
    assert ours(database_checks()) == {}
