from datetime import timedelta
from io import StringIO

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.utils import timezone

from outreach.models import ScheduledTouch
from tests.factories import ClientFactory, LeadFactory, MessageTemplateFactory, ScheduledTouchFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def anymail_test_backend(settings):
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    mail.outbox = []


def due_email(client, **lead_fields):
    if not client.message_templates.exists():
        MessageTemplateFactory(client=client, channel="email", touch_number=1)
    lead = LeadFactory(client=client, **lead_fields)
    return ScheduledTouchFactory(lead=lead, client=client, scheduled_at=timezone.now() - timedelta(hours=2))


def run(*args):
    out = StringIO()
    call_command("dispatch_due_touches", *args, stdout=out)
    return out.getvalue()


def test_sends_what_is_due_and_says_so():
    touch = due_email(ClientFactory())

    output = run()

    assert "1 sent" in output
    assert ScheduledTouch.objects.get(pk=touch.pk).status == "sent" and len(mail.outbox) == 1
    assert "nothing was due" in run()


def test_a_dry_run_lists_what_would_go_and_why_others_wait_and_changes_nothing():
    client = ClientFactory(daily_email_limit=1)
    going = due_email(client)
    over_limit = due_email(client)
    blocked = due_email(ClientFactory(), do_not_contact=True)

    output = run("--dry-run")

    assert f"would send   touch {going.pk}:" in output
    assert f"would wait   touch {over_limit.pk}:" in output and "daily_limit until" in output
    assert f"would block  touch {blocked.pk}:" in output and "do_not_contact" in output
    assert "1 of 3 due touches would go out now (dry run)" in output
    assert set(ScheduledTouch.objects.values_list("status", flat=True)) == {"planned"}
    assert not mail.outbox


def test_the_limit_caps_the_run():
    client = ClientFactory()
    for _ in range(3):
        due_email(client)

    assert "2 sent" in run("--limit", "2")
    assert ScheduledTouch.objects.filter(status="planned").count() == 1


def test_a_limit_below_one_is_refused():
    with pytest.raises(CommandError, match="--limit must be at least 1"):
        run("--limit", "0")


@pytest.mark.parametrize("command", ["dispatch_due_touches", "setup_schedules"])
def test_help_says_what_the_command_does(command, capsys):
    with pytest.raises(SystemExit):
        call_command(command, "--help")

    assert "schedule" in capsys.readouterr().out
