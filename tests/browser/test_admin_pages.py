"""The admin's own pages in a real browser: the score chart, the snapshot card, the WHEN heat map, a pattern's
schema errors, the rescore action, and a staff member kept to their own client."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from engines.rules.content import build_content_snapshot
from engines.services.scoring.lead_score import score_lead
from outreach.models import Lead
from tests.browser.conftest import screenshot
from tests.factories import ActivityFactory, ClientFactory, ConversionPatternFactory, LeadFactory, when_patterns

pytestmark = pytest.mark.integration


def test_a_lead_shows_its_score_chart(admin_login, staff_user):
    lead = LeadFactory(title="CEO", is_hiring=True)
    score_lead(lead)
    page = admin_login(staff_user("alex", lead.client))
    page.goto(reverse("admin:outreach_lead_change", args=[lead.pk]))
    chart = page.locator("#score-chart")
    expect(chart.locator("svg")).to_be_visible()
    expect(chart.locator("rect.chart-bar")).to_have_count(5)
    expect(chart).to_contain_text("Authority")
    # The table fallback is in the page for screen readers, though not drawn.
    expect(chart.locator("table caption")).to_have_text("Contribution of each component to the score")
    expect(page.locator("#score-table")).to_contain_text("Company fit")
    screenshot(page, "admin_lead_score_chart")


def test_an_activity_shows_its_snapshot_card(admin_login, staff_user):
    lead = LeadFactory(first_name="Mia", company_name="Harbour Dental")
    body = "Hi Mia, Harbour Dental is losing leads to slow follow-up. Open to a quick chat?"
    snapshot = build_content_snapshot(body, lead, subject="Faster follow-up", client=lead.client)
    activity = ActivityFactory(lead=lead, content_snapshot=snapshot)
    page = admin_login(staff_user("alex", lead.client))
    page.goto(reverse("admin:outreach_activity_change", args=[activity.pk]))
    card = page.locator("#snapshot-card")
    expect(card).to_be_visible()
    expect(card.locator(".snapshot-subject")).to_have_text("Subject: Faster follow-up")
    expect(card.locator(".snapshot-body")).to_contain_text("losing leads to slow follow-up")
    expect(card.locator(".snapshot-cta .outreach-tag")).to_be_visible()
    expect(card.locator(".outreach-flags li").first).to_be_visible()
    expect(card.locator(".snapshot-local-time")).to_contain_text(snapshot["day_of_week"])
    # History is read-only: no save button.
    expect(page.locator("input[name=_save]")).to_have_count(0)
    # The raw JSON is folded below and opens on demand.
    raw = page.locator("details.outreach-raw")
    expect(raw.locator("pre").first).not_to_be_visible()
    raw.locator("summary").click()
    expect(raw.locator("pre").first).to_contain_text('"cta_used"')
    screenshot(page, "admin_activity_snapshot_card")


def test_a_when_pattern_shows_its_heat_map(admin_login, staff_user):
    # Weekdays 08:00-17:00 with 40 touches each, Saturday 11:00 with 12 (thin), Wednesday 20:00 outside the window.
    arms = [{"day_index": d, "hour": h, "successes": (d + h) % 5, "trials": 40} for d in range(5) for h in range(8, 18)]
    arms += [{"day_index": 5, "hour": 11, "successes": 3, "trials": 12}, {"day_index": 2, "hour": 20, "successes": 5,
             "trials": 35}]  # fmt: skip
    client = ClientFactory(sending_window_start=7, sending_window_end=19, sends_on_weekends=False)
    pattern = ConversionPatternFactory(
        client=client,
        pattern_type="when",
        patterns=when_patterns(day_hour_arms=arms),
        computed_at=timezone.now() - timedelta(hours=1),
    )
    page = admin_login(staff_user("alex", pattern.client))
    page.goto(reverse("admin:outreach_conversionpattern_change", args=[pattern.pk]))
    heat = page.locator("#when-heat-map")
    expect(heat.locator("svg").first).to_be_visible()
    expect(heat.locator("g.when-cell")).to_have_count(len(arms))
    expect(heat.locator("g.when-thin")).to_have_count(1)
    expect(heat.locator("rect.when-outside")).to_have_count(12)  # 00-06 and 19-23
    expect(heat.locator("rect.when-outside-day")).to_have_count(2)  # Saturday and Sunday
    expect(page.locator("#when-heat-map-legend")).to_be_visible()
    expect(page.locator("#when-sending-window")).to_contain_text("07:00-19:00")
    expect(page.locator("[data-state=active]").first).to_be_visible()
    screenshot(page, "admin_pattern_heat_map")


def test_saving_an_invalid_pattern_shows_the_error(admin_login, staff_user):
    client = ClientFactory(name="Harbour Dental")
    page = admin_login(staff_user("alex", client))
    page.goto(reverse("admin:outreach_conversionpattern_add"))
    page.select_option("#id_client", label="Harbour Dental")
    page.select_option("#id_pattern_type", value="when")
    page.fill("#id_patterns", json.dumps(when_patterns(best_days=[{"day_index": 9, "conversion_rate": 0.1}])))
    page.fill("#id_computed_at_0", "2026-11-01")
    page.fill("#id_computed_at_1", "00:00:00")
    page.fill("#id_valid_until_0", "2026-11-08")
    page.fill("#id_valid_until_1", "00:00:00")
    page.click("input[name=_save]")
    # The wording is the pattern schema's; the field and the bad value are what the user must see.
    error = page.locator("#id_patterns_error")
    expect(error).to_contain_text("best_days[0].day_index")
    expect(error).to_contain_text("got 9")
    screenshot(page, "admin_pattern_schema_error")


def test_the_rescore_action_scores_the_chosen_lead(admin_login, staff_user):
    lead = LeadFactory(last_name="Okafor")
    page = admin_login(staff_user("alex", lead.client))
    page.goto(reverse("admin:outreach_lead_changelist"))
    page.check(f"input[name=_selected_action][value='{lead.pk}']")
    page.select_option("select[name=action]", value="rescore")
    page.click("button[name=index]")
    expect(page.locator("ul.messagelist")).to_contain_text("Rescored 1 lead(s).")
    assert Lead.objects.get(pk=lead.pk).als_score is not None
    screenshot(page, "admin_rescore_action")


def test_a_staff_member_cannot_see_another_clients_lead(admin_login, staff_user):
    mine, theirs = LeadFactory(last_name="Mineson"), LeadFactory(last_name="Theirson")
    page = admin_login(staff_user("alex", mine.client))
    page.goto(reverse("admin:outreach_lead_changelist"))
    expect(page.locator("#result_list")).to_contain_text("Mineson")
    expect(page.locator("#result_list")).not_to_contain_text("Theirson")
    response = page.goto(reverse("admin:outreach_lead_change", args=[theirs.pk]))
    assert response is not None and response.status == 404
    screenshot(page, "admin_other_clients_lead_404")
