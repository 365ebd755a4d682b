"""People's work: a LinkedIn or call touch is recorded as sent only when the person marks its task done."""

import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.db import DatabaseError, OperationalError, connection

from engines.exceptions import InvalidTouch
from engines.services.sending import recording
from engines.services.sending.manual_tasks import (
    close_follow_up,
    complete_task,
    instructions,
    open_follow_up,
    open_tasks,
    skip_task,
)
from engines.services.sending.outbox import deliver_touch
from outreach.models import Activity, Lead, ManualTask, ScheduledTouch
from tests.factories import LeadFactory, MessageTemplateFactory, ScheduledTouchFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 4, 10, 30, tzinfo=ZoneInfo("Australia/Sydney"))
LATER = NOW + timedelta(hours=3)


@pytest.fixture
def user():
    return get_user_model().objects.create_user("sam", password="x")


def opened(channel="linkedin", subject="", body="Hi {first_name}, worth a quick chat?", lead=None, touch_number=1):
    """A task opened the way the dispatcher opens it: a claimed touch delivered."""
    lead = lead or LeadFactory(first_name="Priya")
    MessageTemplateFactory(client=lead.client, channel=channel, touch_number=touch_number, subject=subject, body=body)
    touch = ScheduledTouchFactory(
        lead=lead, channel=channel, touch_number=touch_number, status="sending", scheduled_at=NOW
    )
    task = deliver_touch(touch, now=NOW)
    assert isinstance(task, ManualTask)
    return task


def touch_of(task):
    return ScheduledTouch.objects.get(pk=task.scheduled_touch_id)


def test_a_linkedin_task_done_records_the_text_actually_sent(user):
    task = opened()
    edited = "Hi Priya, saw your post on front-desk hours. Worth a quick chat?"

    activity = complete_task(task, user=user, sent_text=edited, now=LATER)

    activity.refresh_from_db()
    assert (activity.action, activity.channel, activity.created_at) == ("linkedin_sent", "linkedin", LATER)
    assert activity.content_snapshot["body"] == edited
    assert activity.content_snapshot["has_recent_news"]  # analysed on what was sent, not on the template
    assert (activity.metadata["delivery"], activity.metadata["task_id"]) == ("manual_task", task.pk)
    touch = touch_of(task)
    assert (touch.status, touch.activity_id) == ("sent", activity.pk)
    assert (activity.touch_number, activity.sequence_id) == (touch.touch_number, touch.sequence_id)
    assert (task.status, task.closed_by, task.closed_at, task.sent_text) == ("done", user, LATER, edited)
    lead = Lead.objects.get(pk=task.lead_id)
    assert (lead.touch_count, lead.last_contacted_at) == (1, LATER)


def test_without_an_edit_the_tasks_own_message_is_recorded():
    task = opened()
    activity = complete_task(task, now=LATER)
    assert activity.content_snapshot["body"] == "Hi Priya, worth a quick chat?"
    assert task.sent_text == "Hi Priya, worth a quick chat?"


def test_a_connection_request_task_records_its_note():
    task = opened(subject="Priya, fellow physio here", body="Thanks for connecting!")
    assert "click Connect, add a note" in instructions(task)

    activity = complete_task(task, now=LATER)

    snapshot = activity.content_snapshot
    assert (snapshot["message_type"], snapshot["connection_note"], snapshot["body"]) == (
        "connection_request",
        "Priya, fellow physio here",
        "Thanks for connecting!",
    )


def test_a_call_task_done_records_the_outcome_and_the_script(user):
    task = opened(channel="voice", body="Ask {first_name} about the front desk.")
    assert task.lead.phone in instructions(task)

    activity = complete_task(task, user=user, outcome="voicemail", notes="Left a message", now=LATER)

    assert (activity.action, activity.metadata["outcome"]) == ("voice_completed", "voicemail")
    assert activity.content_snapshot["script_content"] == "Ask Priya about the front desk."
    assert activity.content_snapshot["notes"] == "Left a message"
    assert (touch_of(task).status, touch_of(task).activity_id) == ("sent", activity.pk)
    assert (task.status, task.outcome, task.notes, task.closed_by) == ("done", "voicemail", "Left a message", user)


def test_a_wrong_number_marks_the_phone_unusable_and_cancels_its_sms_and_calls():
    task = opened(channel="voice", body="Script")
    lead = task.lead
    sms = ScheduledTouchFactory(lead=lead, channel="sms", touch_number=5)
    email = ScheduledTouchFactory(lead=lead, channel="email", touch_number=6)

    complete_task(task, outcome="wrong_number", now=LATER)

    assert Lead.objects.get(pk=lead.pk).phone_unusable
    assert ScheduledTouch.objects.get(pk=sms.pk).status == "cancelled"
    assert ScheduledTouch.objects.get(pk=email.pk).status == "planned"
    assert touch_of(task).status == "sent"


def test_do_not_call_opts_the_lead_out_of_calls():
    task = opened(channel="voice", body="Script")
    call = ScheduledTouchFactory(lead=task.lead, channel="voice", touch_number=4)

    complete_task(task, outcome="do_not_call", now=LATER)

    assert Lead.objects.get(pk=task.lead_id).voice_opted_out
    assert ScheduledTouch.objects.get(pk=call.pk).status == "cancelled"


def test_a_meeting_booked_on_the_call_converts_the_lead_and_ends_its_sequence():
    task = opened(channel="voice", body="Script")
    later_touch = ScheduledTouchFactory(lead=task.lead, channel="email", touch_number=4)

    activity = complete_task(task, outcome="meeting_booked", now=LATER)

    assert activity.led_to_booking
    assert Lead.objects.get(pk=task.lead_id).status == "converted"
    assert ScheduledTouch.objects.get(pk=later_touch.pk).status == "cancelled"
    assert touch_of(task).status == "sent"


@pytest.mark.parametrize("outcome", [None, "hung_up"])
def test_a_call_task_needs_a_known_outcome_and_nothing_changes_without_one(outcome):
    task = opened(channel="voice", body="Script")

    with pytest.raises(InvalidTouch):
        complete_task(task, outcome=outcome, now=LATER)

    assert not Activity.objects.exists()
    assert ManualTask.objects.get(pk=task.pk).status == "open"
    assert touch_of(task).status == "waiting"


def test_a_task_is_done_once():
    task = opened()
    complete_task(task, now=LATER)

    with pytest.raises(InvalidTouch):
        complete_task(ManualTask.objects.get(pk=task.pk), now=LATER)
    with pytest.raises(InvalidTouch):
        skip_task(task, reason="changed my mind")

    assert Activity.objects.count() == 1


def test_what_happened_is_recorded_even_if_the_lead_opted_out_meanwhile():
    task = opened()
    Lead.objects.filter(pk=task.lead_id).update(do_not_contact=True)  # no signal: the task stays open

    activity = complete_task(task, now=LATER)

    assert touch_of(task).activity_id == activity.pk


def test_when_the_record_fails_the_task_and_touch_stay_as_they_were(monkeypatch):
    task = opened()

    def create(rows, *args, **kwargs):
        raise DatabaseError("connection lost")

    monkeypatch.setattr(recording, "insert_objects", create)

    with pytest.raises(DatabaseError):
        complete_task(task, now=LATER)

    assert ManualTask.objects.get(pk=task.pk).status == "open"
    assert touch_of(task).status == "waiting"


def test_text_the_database_cannot_store_is_refused():
    task = opened()
    with pytest.raises(InvalidTouch):
        complete_task(task, sent_text="Hi\x00", now=LATER)
    assert ManualTask.objects.get(pk=task.pk).status == "open"


def test_skipping_a_task_cancels_its_touch_with_the_reason(user):
    task = opened()

    skip_task(task, user=user, reason="Profile is a recruiter's, not the lead's", now=LATER)

    assert (task.status, task.closed_by, task.closed_at) == ("skipped", user, LATER)
    assert task.notes == "Profile is a recruiter's, not the lead's"
    touch = touch_of(task)
    assert touch.status == "cancelled"
    assert touch.reason == "task_skipped: Profile is a recruiter's, not the lead's"
    assert not Activity.objects.exists()


@pytest.mark.parametrize("reason", ["", "   "])
def test_a_skip_needs_a_reason(reason):
    task = opened()
    with pytest.raises(InvalidTouch):
        skip_task(task, reason=reason)
    assert ManualTask.objects.get(pk=task.pk).status == "open"


def test_open_tasks_lists_what_is_left_soonest_first():
    first = opened()
    call = opened(channel="voice", body="Script")
    done = opened()
    complete_task(done, now=LATER)
    ManualTask.objects.filter(pk=call.pk).update(due_at=NOW - timedelta(hours=1))

    assert list(open_tasks()) == [call, first]
    assert list(open_tasks(kind="linkedin")) == [first]
    assert list(open_tasks(client=first.client)) == [first]
    assert list(open_tasks(due_by=NOW - timedelta(minutes=1))) == [call]


@pytest.mark.django_db(transaction=True)
def test_two_people_closing_one_task_at_once_record_it_once():
    task = opened()
    barrier = threading.Barrier(2)
    outcomes = []

    def close(action):
        try:
            barrier.wait()
            action(ManualTask.objects.get(pk=task.pk))
            outcomes.append("ok")
        except (InvalidTouch, OperationalError) as exc:  # SQLite may refuse the second writer outright
            outcomes.append(type(exc).__name__)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=close, args=(lambda t: complete_task(t, now=LATER),)),
        threading.Thread(target=close, args=(lambda t: skip_task(t, reason="not needed", now=LATER),)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert outcomes.count("ok") == 1
    task.refresh_from_db()
    touch = touch_of(task)
    if task.status == "done":
        assert (touch.status, Activity.objects.count()) == ("sent", 1)
    else:
        assert (task.status, touch.status, Activity.objects.count()) == ("skipped", "cancelled", 0)


def test_a_follow_up_task_records_no_touch_and_is_closed_with_notes(user):
    lead = LeadFactory(first_name="Priya", phone="+61400000001")
    task = open_follow_up(lead, message="The meeting was cancelled.", due_at=NOW)
    assert "The meeting was cancelled." in instructions(task) and lead.phone in instructions(task)
    with pytest.raises(InvalidTouch, match="follow-up"):
        complete_task(task, user=user)  # it would otherwise record a LinkedIn message nobody sent
    close_follow_up(task, user=user, notes="Rebooked", now=LATER)
    assert (task.status, task.closed_by, task.notes, task.closed_at) == ("done", user, "Rebooked", LATER)
    assert not Activity.objects.filter(lead=lead).exists()
    with pytest.raises(InvalidTouch):
        close_follow_up(task, user=user)


def test_only_a_follow_up_is_closed_as_one():
    task = opened()
    with pytest.raises(InvalidTouch, match="complete_task"):
        close_follow_up(task)
    task.refresh_from_db()
    assert task.status == "open"
