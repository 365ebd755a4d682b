import subprocess
import sys
from datetime import datetime
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from engines.services.sending.manual_tasks import open_follow_up
from engines.services.sending.outbox import deliver_touch
from outreach.models import Activity, ManualTask, ScheduledTouch
from tests.factories import LeadFactory, MessageTemplateFactory, ScheduledTouchFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 4, 10, 30, tzinfo=ZoneInfo("Australia/Sydney"))


def run(*args):
    out = StringIO()
    call_command("manual_tasks", *args, stdout=out)
    return out.getvalue()


def opened(channel="linkedin", body="Hi {first_name}, worth a quick chat?"):
    lead = LeadFactory(first_name="Priya")
    MessageTemplateFactory(client=lead.client, channel=channel, touch_number=1, subject="", body=body)
    touch = ScheduledTouchFactory(lead=lead, channel=channel, touch_number=1, status="sending", scheduled_at=NOW)
    return deliver_touch(touch, now=NOW)


def test_list_shows_each_open_task_with_what_to_do():
    message, call = opened(), opened(channel="voice", body="Ask about the front desk.")

    out = run("list")

    assert (
        f"#{message.pk} LinkedIn message" in out and "paste exactly:" in out and "Hi Priya, worth a quick chat?" in out
    )
    assert f"#{call.pk} Call" in out and call.lead.phone in out and "Ask about the front desk." in out
    assert "2 open tasks." in out
    assert f"#{call.pk}" in run("list", "--kind", "call") and f"#{message.pk}" not in run("list", "--kind", "call")
    assert "1 open task." in run("list", "--client", str(message.client_id))


def test_done_records_the_touch_as_sent():
    task = opened()
    get_user_model().objects.create_user("sam")

    out = run("done", str(task.pk), "--text", "Hi Priya! Worth a chat?", "--user", "sam")

    assert f"Task #{task.pk} done: recorded linkedin_sent" in out
    activity = Activity.objects.get()
    assert activity.content_snapshot["body"] == "Hi Priya! Worth a chat?"
    assert ScheduledTouch.objects.get(pk=task.scheduled_touch_id).activity_id == activity.pk
    assert ManualTask.objects.get(pk=task.pk).closed_by.username == "sam"


def test_done_for_a_call_takes_its_outcome():
    task = opened(channel="voice", body="Script")

    run("done", str(task.pk), "--outcome", "no_answer", "--duration", "12")

    activity = Activity.objects.get()
    assert (activity.metadata["outcome"], activity.metadata["duration_seconds"]) == ("no_answer", 12)


def test_skip_cancels_the_touch():
    task = opened()

    out = run("skip", str(task.pk), "--reason", "wrong profile")

    assert "skipped" in out
    touch = ScheduledTouch.objects.get(pk=task.scheduled_touch_id)
    assert (touch.status, touch.reason) == ("cancelled", "task_skipped: wrong profile")


@pytest.mark.parametrize(
    "args, message",
    [
        (["done", "999"], "No task with id 999"),
        (["list", "--client", "999"], "No client with id 999"),
        (["done", "{task}", "--user", "nobody"], "No user named 'nobody'"),
        (["done", "{call}"], "a call task is done with its outcome"),
    ],
)
def test_mistakes_are_command_errors_that_say_what_to_do(args, message):
    task, call = opened(), opened(channel="voice", body="Script")
    args = [arg.format(task=task.pk, call=call.pk) for arg in args]

    with pytest.raises(CommandError, match=message):
        run(*args)
    assert not Activity.objects.exists()


def test_help():
    result = subprocess.run(
        [sys.executable, "manage.py", "manual_tasks", "--help"],
        capture_output=True,
        text=True,
        cwd=settings.BASE_DIR,
        check=True,
    )
    assert "list the open tasks" in result.stdout and "cancel its touch" in result.stdout


def test_a_follow_up_is_listed_and_done_with_notes_recording_nothing_sent():
    task = open_follow_up(LeadFactory(first_name="Priya"), message="The meeting was cancelled.", due_at=NOW)

    assert f"#{task.pk} Follow-up" in run("list", "--kind", "follow_up")
    out = run("done", str(task.pk), "--notes", "Rebooked for Friday")

    assert "followed up" in out
    task.refresh_from_db()
    assert (task.status, task.notes) == ("done", "Rebooked for Friday")
    assert not Activity.objects.filter(lead=task.lead).exists()
