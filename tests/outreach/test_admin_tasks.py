"""The task queue: open LinkedIn and call tasks due first, the text to copy, done and skip through the services."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from outreach.models import Activity, TaskStatus, TouchStatus
from tests.factories import ClientFactory, LeadFactory, ManualTaskFactory, ScheduledTouchFactory, StaffUserFactory

pytestmark = pytest.mark.django_db

QUEUE = reverse("admin:outreach_manualtask_changelist")


def _page(task) -> str:
    return reverse("admin:outreach_manualtask_change", args=[task.pk])


def _messages(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def _listed(response) -> list[int]:
    return [task.pk for task in response.context["cl"].result_list]


@pytest.fixture
def harbour():
    return ClientFactory(name="Harbour Dental")


@pytest.fixture
def member(harbour):
    return StaffUserFactory(clients=[harbour])


@pytest.fixture
def staff(client, member):
    """A staff member of Harbour Dental only, logged in."""
    client.force_login(member)
    return client


def _task(client, **kwargs):
    return ManualTaskFactory(lead=LeadFactory(client=client), **kwargs)


def test_the_queue_lists_open_tasks_due_first(staff, harbour):
    now = timezone.now()
    later = _task(harbour, due_at=now + timedelta(hours=3))
    sooner = _task(harbour, kind="call", due_at=now - timedelta(hours=1))
    done = _task(harbour, status=TaskStatus.DONE, closed_at=now)

    response = staff.get(QUEUE)

    assert _listed(response) == [sooner.pk, later.pk]
    assert "(overdue)" in response.content.decode()
    assert done.pk in _listed(staff.get(QUEUE, {"status": "all"}))
    assert _listed(staff.get(QUEUE, {"status": "done"})) == [done.pk]


def test_the_mine_filter_shows_the_person_s_own_tasks(staff, harbour, member):
    mine = _task(harbour, assigned_to=member)
    _task(harbour, assigned_to=StaffUserFactory(clients=[harbour]))
    nobody_s = _task(harbour)

    assert _listed(staff.get(QUEUE, {"assigned": "mine"})) == [mine.pk]
    assert _listed(staff.get(QUEUE, {"assigned": "nobody"})) == [nobody_s.pk]


def test_assign_to_me_takes_the_selected_open_tasks(staff, harbour, member):
    task = _task(harbour)

    response = staff.post(QUEUE, {"action": "assign_to_me", "_selected_action": [task.pk]})

    task.refresh_from_db()
    assert task.assigned_to == member
    assert "1 task(s) assigned to you." in _messages(response)


def test_a_staff_member_sees_and_closes_only_their_clients_tasks(staff, harbour):
    mine = _task(harbour)
    theirs = _task(ClientFactory(name="Not Mine"))

    assert _listed(staff.get(QUEUE)) == [mine.pk]
    assert staff.get(_page(theirs)).status_code == 404
    assert staff.post(_page(theirs), {"skip": "Skip task", "skip-reason": "not mine"}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == TaskStatus.OPEN


def test_a_linkedin_task_shows_the_profile_and_the_message_to_copy(staff, harbour):
    task = _task(harbour, message="Hi Sam, loved your talk on patient recalls.")

    page = staff.get(_page(task)).content.decode()

    assert task.lead.linkedin_url in page
    assert '<textarea id="task-text" readonly rows="8" cols="80">Hi Sam, loved your talk on patient recalls.' in page
    assert 'name="done-sent_text"' in page and 'name="done-outcome"' not in page


def test_a_call_task_shows_the_script_and_asks_for_the_outcome(staff, harbour):
    task = _task(harbour, kind="call", message="Ask about their recall system.")

    page = staff.get(_page(task)).content.decode()

    assert "Call script" in page and "Ask about their recall system." in page
    assert f'href="tel:{task.lead.phone}"' in page
    assert 'name="done-outcome"' in page and 'name="done-sent_text"' not in page


def test_done_records_what_was_actually_sent(staff, harbour, member):
    task = _task(harbour, message="Hi Sam, quick question.")

    response = staff.post(_page(task), {"done": "Mark done", "done-sent_text": "Hi Sam, a quick question for you."})

    assert response.status_code == 302 and response.url == QUEUE
    task.refresh_from_db()
    assert (task.status, task.closed_by, task.sent_text) == (
        TaskStatus.DONE,
        member,
        "Hi Sam, a quick question for you.",
    )
    activity = Activity.objects.get(lead=task.lead)
    assert activity.action == "linkedin_sent"
    assert "Hi Sam, a quick question for you." in str(activity.content_snapshot)


def test_done_on_a_call_records_its_outcome(staff, harbour):
    task = _task(harbour, kind="call", message="Script")

    staff.post(_page(task), {"done": "Mark done", "done-outcome": "voicemail", "done-notes": "left a message"})

    task.refresh_from_db()
    assert (task.status, task.outcome, task.notes) == (TaskStatus.DONE, "voicemail", "left a message")
    assert Activity.objects.get(lead=task.lead).action == "voice_completed"


def test_skip_closes_the_task_and_cancels_its_touch(staff, harbour):
    touch = ScheduledTouchFactory(lead=LeadFactory(client=harbour), channel="linkedin", status=TouchStatus.WAITING)
    task = ManualTaskFactory(lead=touch.lead, scheduled_touch=touch)

    staff.post(_page(task), {"skip": "Skip task", "skip-reason": "profile deleted"})

    task.refresh_from_db()
    touch.refresh_from_db()
    assert (task.status, task.notes) == (TaskStatus.SKIPPED, "profile deleted")
    assert touch.status == TouchStatus.CANCELLED


def test_skip_needs_a_reason(staff, harbour):
    task = _task(harbour)

    response = staff.post(_page(task), {"skip": "Skip task", "skip-reason": ""})

    assert response.status_code == 200
    assert "reason" in response.context["skip_form"].errors
    task.refresh_from_db()
    assert task.status == TaskStatus.OPEN


def test_a_closed_task_shows_what_happened_and_cannot_be_closed_again(staff, harbour):
    task = _task(harbour)
    staff.post(_page(task), {"done": "Mark done", "done-sent_text": "Sent this"})

    page = staff.get(_page(task)).content.decode()
    assert "Mark done" not in page and "Sent this" in page
    response = staff.post(_page(task), {"done": "Mark done", "done-sent_text": "Again"})

    assert any(message.startswith("Not recorded:") for message in _messages(response))
    assert Activity.objects.filter(lead=task.lead).count() == 1


def test_view_only_staff_see_the_task_but_cannot_close_it(client, harbour):
    client.force_login(StaffUserFactory(clients=[harbour], permissions=["view_manualtask"]))
    task = _task(harbour)

    page = client.get(_page(task)).content.decode()

    assert "Mark done" not in page
    assert client.post(_page(task), {"skip": "Skip task", "skip-reason": "x"}).status_code == 403


def test_tasks_are_neither_added_nor_deleted_here(staff, harbour):
    task = _task(harbour)

    assert staff.get(reverse("admin:outreach_manualtask_add")).status_code == 403
    assert staff.get(reverse("admin:outreach_manualtask_delete", args=[task.pk])).status_code == 403


def test_the_queue_runs_the_same_queries_whatever_the_number_of_tasks(staff, harbour):
    _task(harbour)
    with CaptureQueriesContext(connection) as one:
        staff.get(QUEUE)
    for _ in range(5):
        _task(harbour, assigned_to=StaffUserFactory(clients=[harbour]))
    with CaptureQueriesContext(connection) as six:
        staff.get(QUEUE)

    assert len(six) == len(one)


def test_the_queue_links_to_the_lead_and_a_closed_task_returns_to_the_filtered_queue(staff, harbour):
    task = _task(harbour)
    lead_url = reverse("admin:outreach_lead_change", args=[task.lead_id])

    assert f'href="{lead_url}"' in staff.get(QUEUE).content.decode()
    assert staff.get(lead_url).status_code == 200
    page = f"{_page(task)}?_changelist_filters=assigned%3Dnobody"
    assert f'href="{QUEUE}?assigned=nobody"' in staff.get(page).content.decode()
    response = staff.post(page, {"skip": "Skip task", "skip-reason": "duplicate lead"})
    assert response.url == f"{QUEUE}?assigned=nobody"
    assert staff.get(response.url).status_code == 200


def test_a_follow_up_task_shows_how_to_reach_the_lead_and_closes_with_notes_only(staff, harbour, member):
    task = _task(harbour, kind="follow_up", message="The meeting was cancelled. Get back to the lead.")

    page = staff.get(_page(task)).content.decode()
    assert "The meeting was cancelled." in page and f"mailto:{task.lead.email}" in page
    assert 'name="done-outcome"' not in page and 'name="done-sent_text"' not in page

    response = staff.post(_page(task), {"done": "Mark done", "done-notes": "Rebooked for Friday"})

    assert response.status_code == 302
    task.refresh_from_db()
    assert (task.status, task.closed_by, task.notes) == (TaskStatus.DONE, member, "Rebooked for Friday")
    assert not Activity.objects.filter(lead=task.lead).exists()  # nothing was sent
