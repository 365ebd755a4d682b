"""A manual task's page: the lead's recent history, "done and next", and times on the lead's clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from engines.rules.geography import lead_timezone_name
from outreach.admin.tasks import HISTORY_SHOWN
from outreach.models import TaskStatus
from tests.factories import ActivityFactory, ClientFactory, LeadFactory, ManualTaskFactory, StaffUserFactory

pytestmark = pytest.mark.django_db

QUEUE = reverse("admin:outreach_manualtask_changelist")


def _page(task) -> str:
    return reverse("admin:outreach_manualtask_change", args=[task.pk])


def _messages(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


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


def _sent(lead, at, *, channel="email", number=1, subject="", body="", **snapshot):
    action = {"email": "email_sent", "sms": "sms_sent", "linkedin": "linkedin_sent", "voice": "voice_completed"}
    return ActivityFactory(
        lead=lead,
        action=action[channel],
        channel=channel,
        touch_number=number,
        created_at=at,
        content_snapshot={"subject": subject, "body": body, **snapshot},
    )


def _reply(lead, at, text, *, channel="email", answers=None, **metadata):
    return ActivityFactory(
        lead=lead,
        action=f"{channel}_replied",
        channel=channel,
        touch_number=None,
        created_at=at,
        in_reply_to=answers,
        metadata={"text": text, **metadata},
    )


# --- The lead's recent history -------------------------------------------------------------------------------


def test_the_history_shows_this_lead_s_touches_and_replies_newest_first_with_their_text(staff, harbour):
    now = timezone.now()
    task = _task(harbour)
    lead = task.lead
    first = _sent(lead, now - timedelta(days=6), subject="Faster recalls", body="Hi Sam, recalls are slipping?")
    _sent(lead, now - timedelta(days=5), channel="linkedin", number=2, body="Hi Sam, following up on recalls.")
    ActivityFactory(lead=lead, action="email_delivered", channel="email", created_at=now - timedelta(days=4))
    _reply(lead, now - timedelta(days=3), "Not now, try us in March.", answers=first, intent="later")
    ActivityFactory(
        lead=lead, action="meeting_booked", channel="", touch_number=None, created_at=now - timedelta(days=2)
    )
    _sent(LeadFactory(client=harbour), now, body="Text sent to another lead of the client")
    _reply(LeadFactory(client=harbour), now, "A reply from another lead")
    _sent(LeadFactory(client=ClientFactory()), now, body="Text sent to a lead of another client")

    response = staff.get(_page(task))
    page = response.content.decode()

    rows = response.context["history"]
    assert [row.activity.action for row in rows] == ["meeting_booked", "email_replied", "linkedin_sent", "email_sent"]
    assert [row.kind for row in rows] == ["outcome", "reply", "touch", "touch"]
    for text in ("Faster recalls", "Hi Sam, recalls are slipping?", "Hi Sam, following up on recalls."):
        assert text in page
    assert "Not now, try us in March." in page
    assert "intent: later, answers touch 1" in page
    assert "Meeting booked" in page
    assert "Email delivered" not in page  # transport receipts are left out
    assert "another lead" not in page and "another client" not in page
    # The touches' text is folded, the replies' open.
    assert page.count("<details open>") == 1 and page.count("<details>") == 2
    lead_url = reverse("admin:outreach_lead_change", args=[lead.pk])
    assert f'href="{lead_url}" class="task-journey-link"' in page
    assert not response.context["older_history"]


def test_a_call_in_the_history_shows_its_outcome_and_a_connection_request_its_note(staff, harbour):
    now = timezone.now()
    task = _task(harbour)
    _sent(task.lead, now - timedelta(days=2), channel="voice", body="Ask about recalls", outcome="no_answer")
    _sent(
        task.lead,
        now - timedelta(days=1),
        channel="linkedin",
        number=2,
        body="Thanks for connecting",
        message_type="connection_request",
        connection_note="Hi Sam, fellow dental nerd here.",
    )

    page = staff.get(_page(task)).content.decode()

    assert "outcome: no answer" in page and "Ask about recalls" in page
    assert "connection request" in page and "Hi Sam, fellow dental nerd here." in page


def test_the_history_stops_at_the_last_ten_and_points_to_the_lead_s_page(staff, harbour):
    now = timezone.now()
    task = _task(harbour)
    for day in range(HISTORY_SHOWN + 2):
        _sent(task.lead, now - timedelta(days=day), number=day + 1, body=f"Message number {day + 1}.")

    response = staff.get(_page(task))
    page = response.content.decode()

    assert len(response.context["history"]) == HISTORY_SHOWN
    assert "Message number 1." in page and f"Message number {HISTORY_SHOWN}." in page
    assert f"Message number {HISTORY_SHOWN + 1}." not in page
    assert response.context["older_history"] and "Older history" in page


def test_a_lead_with_no_history_says_so(staff, harbour):
    page = staff.get(_page(_task(harbour))).content.decode()

    assert "Nothing sent to this lead yet, and nothing heard back." in page


def test_a_linkedin_task_whose_text_the_lead_already_received_warns(staff, harbour):
    task = _task(harbour, message="Hi Sam, quick question about recalls.")
    _sent(
        task.lead, timezone.now() - timedelta(days=3), channel="linkedin", body="Hi Sam,  quick question about recalls."
    )

    page = staff.get(_page(task)).content.decode()

    assert "This lead already received this text" in page
    fresh = _task(harbour, message="Something new")
    assert "already received" not in staff.get(_page(fresh)).content.decode()


def test_the_page_runs_the_same_queries_whatever_the_length_of_the_history(staff, harbour):
    now = timezone.now()
    task = _task(harbour)
    touch = _sent(task.lead, now - timedelta(days=20), body="First touch")
    with CaptureQueriesContext(connection) as short:
        staff.get(_page(task))
    for day in range(1, HISTORY_SHOWN):
        if day % 2:
            _reply(task.lead, now - timedelta(days=day), f"Reply {day}", answers=touch)
        else:
            _sent(task.lead, now - timedelta(days=day), channel="sms", number=day, body=f"Text {day}")
    with CaptureQueriesContext(connection) as long:
        response = staff.get(_page(task))

    assert len(response.context["history"]) == HISTORY_SHOWN
    assert len(long) == len(short)


# --- Done and next -----------------------------------------------------------------------------------------------


def test_done_and_next_opens_the_next_task_due_of_the_user_s_clients(staff, harbour):
    now = timezone.now()
    current = _task(harbour, due_at=now - timedelta(hours=1))
    _task(ClientFactory(name="Not Mine"), due_at=now - timedelta(hours=5))  # due first, but not the user's
    _task(harbour, due_at=now - timedelta(hours=6), status=TaskStatus.DONE, closed_at=now)  # closed already
    following = _task(harbour, due_at=now + timedelta(hours=1))
    _task(harbour, due_at=now + timedelta(hours=3))

    response = staff.post(_page(current), {"done": "next", "done-sent_text": "Hi, a quick question."})

    assert response.status_code == 302 and response.url == _page(following)
    current.refresh_from_db()
    assert (current.status, current.sent_text) == (TaskStatus.DONE, "Hi, a quick question.")
    assert any(message.startswith("Done:") for message in _messages(response))
    assert staff.get(response.url).status_code == 200


def test_skip_and_next_opens_the_next_task_and_keeps_the_queue_s_filters(staff, harbour):
    now = timezone.now()
    current = _task(harbour, due_at=now)
    following = _task(harbour, kind="call", due_at=now + timedelta(days=1))

    response = staff.post(
        f"{_page(current)}?_changelist_filters=kind%3Dcall", {"skip": "next", "skip-reason": "profile gone"}
    )

    assert response.url == f"{_page(following)}?_changelist_filters=kind%3Dcall"
    current.refresh_from_db()
    assert current.status == TaskStatus.SKIPPED


def test_done_and_next_with_none_left_lands_on_the_queue_with_a_message(staff, harbour):
    current = _task(harbour)
    _task(ClientFactory(name="Not Mine"))

    response = staff.post(_page(current), {"done": "next", "done-sent_text": "Hi."})

    assert response.url == QUEUE
    assert "No open task is left in your clients." in _messages(response)


def test_plain_done_still_returns_to_the_queue(staff, harbour):
    current = _task(harbour)
    _task(harbour)

    response = staff.post(_page(current), {"done": "Mark done", "done-sent_text": "Hi."})

    assert response.url == QUEUE


def test_done_and_next_with_an_invalid_form_stays_on_the_task(staff, harbour):
    current = _task(harbour, kind="call")
    _task(harbour)

    response = staff.post(_page(current), {"done": "next", "done-outcome": "not-an-outcome"})

    assert response.status_code == 200 and "outcome" in response.context["done_form"].errors
    current.refresh_from_db()
    assert current.status == TaskStatus.OPEN


def test_the_open_task_offers_done_and_next_and_skip_and_next(staff, harbour):
    page = staff.get(_page(_task(harbour))).content.decode()

    assert 'name="done" value="next"' in page and 'name="skip" value="next"' in page
    assert 'name="done" value="Mark done"' in page


# --- Times on the lead's clock --------------------------------------------------------------------------------


def test_times_are_in_the_lead_s_zone_with_utc_on_hover(staff, harbour):
    lead = LeadFactory(client=harbour, timezone="America/New_York", phone="", country="United States")
    due = datetime(2026, 1, 15, 15, 30, tzinfo=UTC)
    task = ManualTaskFactory(lead=lead, due_at=due)
    _sent(lead, datetime(2026, 1, 12, 14, 5, tzinfo=UTC), body="Earlier email")

    page = staff.get(_page(task)).content.decode()

    assert (
        '<time class="lead-time" datetime="2026-01-15T15:30:00+00:00" title="2026-01-15 15:30 UTC">'
        "Thu 15 Jan 2026 10:30 EST</time>"
    ) in page
    assert 'title="2026-01-12 14:05 UTC">Mon 12 Jan 2026 09:05 EST</time>' in page
    assert "Times on this page are the lead's local time, America/New_York (UTC-0" in page


def test_the_zone_comes_from_the_geography_rules_when_the_lead_has_none(staff, harbour):
    lead = LeadFactory(client=harbour, timezone="", phone="", country="United Kingdom")
    task = ManualTaskFactory(lead=lead, due_at=datetime(2026, 7, 1, 8, 0, tzinfo=UTC))
    assert lead_timezone_name(lead, harbour) == "Europe/London"

    page = staff.get(_page(task)).content.decode()

    assert 'title="2026-07-01 08:00 UTC">Wed 01 Jul 2026 09:00 BST</time>' in page
    assert "local time, Europe/London" in page


def test_a_closed_task_shows_when_it_was_closed_on_the_lead_s_clock(staff, harbour):
    lead = LeadFactory(client=harbour, timezone="Australia/Perth")
    task = ManualTaskFactory(
        lead=lead, status=TaskStatus.DONE, closed_at=datetime(2026, 3, 2, 1, 0, tzinfo=UTC), sent_text="Hi"
    )

    page = staff.get(_page(task)).content.decode()

    assert 'title="2026-03-02 01:00 UTC">Mon 02 Mar 2026 09:00 AWST</time>' in page
