"""The reply inbox in a real browser: open the inbox from the app list, open a reply, unfold its quoted history,
mark one reply interested and another later (with a date), as a staff member of the replies' client."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from outreach.models import Activity, Enrollment
from tests.browser.conftest import screenshot
from tests.engines.test_inbox import a_reply, enrolled_lead
from tests.factories import ClientFactory

pytestmark = pytest.mark.integration

QUOTED = "Yes - send me the pricing please.\n\nOn Mon, 7 Dec 2026 at 09:00, Sam wrote:\n> Hi Mia, open to a chat?"


def test_open_a_reply_and_mark_it_interested_then_another_later(admin_login, staff_user):
    client = ClientFactory(name="Harbour Dental")
    now = timezone.now()
    interested = a_reply(enrolled_lead(client, first_name="Mia"), QUOTED, at=now - timedelta(hours=1))
    later = a_reply(enrolled_lead(client, first_name="Noah"), "Try me next quarter", at=now - timedelta(hours=2))
    page = admin_login(staff_user("alex", client))

    page.get_by_role("link", name="Reply inbox").first.click()
    rows = page.locator("#inbox-replies tr.inbox-row")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("Yes - send me the pricing please.")
    expect(rows.first.locator(".inbox-answered")).to_contain_text("Faster follow-up")
    expect(rows.first.locator(".inbox-waiting")).to_be_visible()
    screenshot(page, "admin_reply_inbox")

    rows.first.locator("a.inbox-open").click()
    expect(page.locator("#reply-text")).to_have_text("Yes - send me the pricing please.")
    quoted = page.locator("#reply-quoted")
    expect(quoted.locator("pre")).not_to_be_visible()
    quoted.locator("summary").click()
    expect(quoted.locator("pre")).to_contain_text("> Hi Mia, open to a chat?")
    expect(page.locator("#answered-message")).to_contain_text("Subject: Faster follow-up")
    screenshot(page, "admin_reply_inbox_reply")
    page.locator("button.inbox-decision-interested").click()
    expect(page.locator(".messagelist")).to_contain_text("Interested: recorded")
    expect(page.locator(".inbox-state")).to_contain_text("Interested by alex")
    assert Activity.objects.get(pk=interested.pk).metadata["decision"]["by"] == "alex"

    page.get_by_role("link", name="Back to the inbox").click()
    page.locator(".inbox-show-waiting").click()
    expect(rows).to_have_count(1)
    rows.first.locator("a.inbox-open").click()
    day = timezone.localdate() + timedelta(days=21)
    page.fill("#id_until", day.isoformat())
    page.fill("#id_note", "after the board meeting")
    page.locator("button.inbox-decision-later").click()
    expect(page.locator(".messagelist")).to_contain_text("Later: paused until")
    expect(page.locator(".inbox-history")).to_contain_text(f"until {day.isoformat()}: after the board meeting")
    screenshot(page, "admin_reply_inbox_later")
    assert Enrollment.objects.get(lead_id=later.lead_id, state="paused").resume_at is not None
