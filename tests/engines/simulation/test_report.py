"""The demo's report: booking rates per cohort, findings against the planted truth, weights, one HTML page."""

from datetime import timedelta

import pytest
from django.utils import timezone

from engines.services.scoring.lead_score import DEFAULT_WEIGHTS
from engines.simulation.agency import build_agency
from engines.simulation.loop import Cohort, LoopResult
from engines.simulation.report import Rate, build_report, cohort_rate, terminal_lines, truth_rows, write_html
from engines.simulation.responses import TRUTH
from tests.factories import ActivityFactory, ConversionPatternFactory, LeadFactory, when_patterns

pytestmark = pytest.mark.django_db


def test_rate_has_a_wilson_interval():
    rate = Rate(12, 400)
    assert rate.value == pytest.approx(0.03)
    low, high = rate.interval
    assert low == pytest.approx(0.0172, abs=1e-3) and high == pytest.approx(0.0518, abs=1e-3)
    assert Rate(0, 0).value == 0.0 and Rate(0, 0).interval == (0.0, 0.0)
    assert "3.0% (12/400; 95% 1.7%-5.2%)" == rate.text()


def test_truth_rows_state_every_part_of_the_response_model():
    text = " ".join(f"{part}: {value}" for part, value in truth_rows(TRUTH))
    for needle in ("email 2.5%", "Mon x1.8", "8:00 x2.4", "linkedin x2", '"free audit" x1.5', "50% of replies"):
        assert needle in text, needle


def test_cohort_rate_counts_bookings_within_the_horizon():
    client = build_agency(1)[0]
    start = timezone.now() - timedelta(days=30)
    leads = [LeadFactory(client=client) for _ in range(4)]
    ActivityFactory(lead=leads[0], action="meeting_booked", channel="", created_at=start + timedelta(days=3))
    ActivityFactory(lead=leads[0], action="meeting_booked", channel="", created_at=start + timedelta(days=4))
    ActivityFactory(lead=leads[1], action="meeting_booked", channel="", created_at=start + timedelta(days=20))
    rate = cohort_rate(Cohort("before learning", start, [lead.pk for lead in leads]), timedelta(days=14))
    assert (rate.booked, rate.leads) == (1, 4)


@pytest.fixture
def loop_result():
    clients = build_agency()
    now = timezone.now()
    learned = {"data_quality": 0.10, "authority": 0.15, "company_fit": 0.40, "timing": 0.20}
    # Learned an hour before the simulated weeks ended: the report shows the patterns active at their end.
    learned_at = now - timedelta(hours=1)
    ConversionPatternFactory(
        client=clients[0], patterns={"recommended_weights": learned}, activated=True, computed_at=learned_at
    )
    ConversionPatternFactory(
        client=clients[0],
        pattern_type="when",
        patterns=when_patterns(best_days=[{"day_index": 3, "conversion_rate": 0.1}]),
        activated=True,
        computed_at=learned_at,
    )
    cohorts = [Cohort("before learning", now - timedelta(weeks=4)), Cohort("after learning", now - timedelta(weeks=2))]
    return LoopResult(clients, cohorts, now - timedelta(weeks=4), now, now - timedelta(weeks=2))


def test_the_report_compares_findings_and_weights_with_the_truth(loop_result):
    report = build_report(loop_result, horizon_days=14)
    learned, untaught = report.clients
    assert learned.weights_source.startswith("learned")
    assert dict((name, value) for name, _, value in learned.weight_rows)["company_fit"] == 0.40
    assert [learned_value for _, _, learned_value in untaught.weight_rows] == [None] * len(DEFAULT_WEIGHTS)
    days = next(finding for finding in learned.findings if finding.what == "best days")
    assert days.found == "Thu" and days.matches  # Thursday is one of the planted best days
    lines = "\n".join(terminal_lines(report))
    assert "company_fit 0.40 (default" in lines
    assert "Planted truth" in lines


def test_the_html_report_is_one_page_with_its_charts(loop_result, tmp_path):
    path = write_html(build_report(loop_result, horizon_days=14), tmp_path / "sub" / "report.html")
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!doctype html>")
    for chart_id in ("booking-rate", "truth-days", "truth-hours", f"weights-{loop_result.clients[0].pk}"):
        assert f'id="{chart_id}"' in text, chart_id
    assert text.count("<svg") == 4
    assert "The response model (planted truth)" in text
    assert "(default in use)" in text  # the second client learned no weights
    assert "http://" not in text and "https://" not in text  # one self-contained file, nothing to fetch
