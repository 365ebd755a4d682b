"""A manual task's page in a real browser: the lead's history, times on its clock, and "Done and next"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from outreach.models import TaskStatus
from tests.browser.conftest import screenshot
from tests.factories import ActivityFactory, ClientFactory, LeadFactory, ManualTaskFactory

pytestmark = pytest.mark.integration


def test_done_and_next_closes_the_task_and_opens_the_next_one(admin_login, staff_user):
    client = ClientFactory(name="Harbour Dental")
    sam = LeadFactory(client=client, first_name="Sam", last_name="Lee", timezone="America/New_York")
    now = timezone.now()
    ActivityFactory(
        lead=sam,
        action="email_sent",
        channel="email",
        touch_number=1,
        created_at=datetime(2026, 1, 12, 14, 5, tzinfo=UTC),
        content_snapshot={"subject": "Faster recalls", "body": "Hi Sam, are recalls slipping?"},
    )
    ActivityFactory(
        lead=sam,
        action="email_replied",
        channel="email",
        touch_number=None,
        created_at=datetime(2026, 1, 13, 16, 0, tzinfo=UTC),
        metadata={"text": "Maybe. Message me on LinkedIn.", "intent": "interested"},
    )
    first = ManualTaskFactory(lead=sam, message="Hi Sam, following up here as asked.", due_at=now - timedelta(hours=2))
    jo = LeadFactory(client=client, first_name="Jo", last_name="Park")
    following = ManualTaskFactory(lead=jo, kind="call", message="Ask about their recall system.", due_at=now)
    ManualTaskFactory(lead=LeadFactory(client=ClientFactory(name="Not Mine")), due_at=now - timedelta(hours=1))

    page = admin_login(staff_user("alex", client))
    page.goto(reverse("admin:outreach_manualtask_change", args=[first.pk]))

    history = page.locator("#task-history")
    expect(history.locator("tr.history-row")).to_have_count(2)
    expect(history.locator("tr.history-row").first).to_contain_text("Maybe. Message me on LinkedIn.")
    # A touch's text is folded until asked for.
    touch = history.locator("tr.history-touch")
    expect(touch.locator("pre").first).not_to_be_visible()
    touch.locator("summary").click()
    expect(touch.locator("pre").last).to_have_text("Hi Sam, are recalls slipping?")
    when = touch.locator("time.lead-time")
    expect(when).to_have_text("Mon 12 Jan 2026 09:05 EST")
    expect(when).to_have_attribute("title", "2026-01-12 14:05 UTC")
    expect(page.locator(".task-zone")).to_contain_text("America/New_York")
    screenshot(page, "task_page_history")

    page.fill("#id_done-sent_text", "Hi Sam, following up here as you asked.")
    page.click("button.task-done-next")

    expect(page.locator(".messagelist")).to_contain_text("Done:")
    expect(page.locator("#task-text")).to_have_value("Ask about their recall system.")
    expect(page.locator("h1")).to_contain_text("Jo Park")
    screenshot(page, "task_page_after_done_and_next")
    assert page.url.endswith(reverse("admin:outreach_manualtask_change", args=[following.pk]))
    first.refresh_from_db()
    assert (first.status, first.sent_text) == (TaskStatus.DONE, "Hi Sam, following up here as you asked.")

    page.select_option("#id_done-outcome", "voicemail")
    page.click("button.task-done-next")
    expect(page.locator(".messagelist")).to_contain_text("No open task is left in your clients.")
    expect(page.locator("#result_list")).to_have_count(0)
