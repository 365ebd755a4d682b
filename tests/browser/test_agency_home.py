"""The agency home in a real browser: the clients table first, Django's app list below, "View site" back to it,
and no request for a missing favicon."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from tests.browser.conftest import screenshot
from tests.factories import ActivityFactory, ClientFactory, LeadFactory, ManualTaskFactory

pytestmark = pytest.mark.integration


def test_the_admin_index_opens_with_the_clients_table(admin_login, staff_user):
    harbour, rival = ClientFactory(name="Harbour Dental"), ClientFactory(name="Rival Legal")
    lead = LeadFactory(client=harbour)
    for _ in range(4):
        ActivityFactory(lead=lead, action="email_sent", channel="email")
    ActivityFactory(lead=lead, action="email_replied", channel="email")
    ActivityFactory(lead=lead, action="email_bounced", channel="email")
    ActivityFactory(lead=lead, action="meeting_booked", channel="")
    ManualTaskFactory(lead=lead)
    # A reply from before the week, still waiting for a person (the inbox's Waiting tab).
    waiting = LeadFactory(client=harbour, status="replied")
    last_week = timezone.now() - timedelta(days=9)
    ActivityFactory(lead=waiting, action="email_replied", channel="email", created_at=last_week)
    ActivityFactory(lead=LeadFactory(client=rival), action="sms_sent", channel="sms")

    page = admin_login(staff_user("alex", harbour))
    failed = []
    page.on("response", lambda response: failed.append(response.url) if response.status >= 400 else None)
    page.goto(reverse("admin:index"))
    table = page.locator("#agency-home-table")
    expect(table).to_be_visible()
    expect(page.locator("#agency-home h2")).to_have_text("Your clients")
    expect(page.locator("#agency-home-period")).to_contain_text("Last 7 days")
    expect(page.locator("#agency-home-period")).to_contain_text("UTC")
    expect(table.locator("tbody tr")).to_have_count(1)  # Rival Legal is not alex's
    row = table.locator("tbody tr").first
    expect(row.locator("th")).to_have_text("Harbour Dental")
    for key, text in {
        "sends": "4",
        "replies": "1",
        "meetings": "1",
        "bounce_rate": "25.0%",
        "complaint_rate": "0.0%",
        "open_tasks": "1",
        "replies_waiting": "1",
    }.items():
        expect(row.locator(f'td[data-figure="{key}"]')).to_have_text(text)
    # Django's app list stays, below the clients.
    app_list = page.locator("#content-main .app-outreach")
    expect(app_list).to_be_visible()
    assert page.locator("#agency-home").bounding_box()["y"] < app_list.bounding_box()["y"]
    screenshot(page, "admin_agency_home")

    # A figure opens its change list: the client's open tasks.
    row.locator('td[data-figure="open_tasks"] a').click()
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    # "View site" comes back to the home.
    page.get_by_role("link", name="View site").click()
    expect(page.locator("#agency-home-table")).to_be_visible()
    assert page.url.endswith(reverse("admin:index"))
    assert not failed, failed
