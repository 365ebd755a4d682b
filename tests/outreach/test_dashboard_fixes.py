"""The client dashboard and the admin's line charts: rates as percentages, readable x labels, whole-number ticks
for counts, and each lead counted once per sequence however often it was re-planned."""

import math
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from outreach.admin.charts import Series, label_indexes, line_chart, nice_ticks
from outreach.admin.dashboard import percent, sequence_rates
from tests.factories import ActivityFactory, ClientFactory, EnrollmentFactory, LeadFactory, ScheduledTouchFactory

X_LABEL = re.compile(r'<text class="chart-tick" x="[^"]+" y="[^"]+" text-anchor="middle">([^<]*)</text>')
Y_TICK = re.compile(r'<text class="chart-tick" x="44" y="[^"]+" text-anchor="end"[^>]*>([^<]*)</text>')


def _dates(count: int) -> list[str]:
    start = timezone.now().date()
    return [f"{start + timedelta(days=i):%Y-%m-%d}" for i in range(count)]


def _is_nice(step: float) -> bool:
    mantissa = step / 10 ** math.floor(math.log10(step))
    return any(math.isclose(mantissa, n) for n in (1, 2, 5, 10))


# ---------------------------------------------------------------- rates as percentages


def test_percent_reads_as_a_percentage():
    assert percent(0.32) == "32.0%"
    assert percent(0.0) == "0.0%"
    assert percent(None) == "—"


@pytest.mark.django_db
def test_the_dashboard_shows_its_rates_as_percentages(admin_client):
    client = ClientFactory()
    now = timezone.now()
    for i in range(4):
        lead = LeadFactory(client=client)
        sent = ActivityFactory(lead=lead, action="email_sent", channel="email", created_at=now - timedelta(days=2))
        ScheduledTouchFactory(lead=lead, status="sent", activity=sent, planned_sequence="email>sms")
        if i < 2:
            ActivityFactory(lead=lead, action="email_replied", channel="email", created_at=now - timedelta(days=1))
        if i == 0:
            ActivityFactory(lead=lead, action="meeting_booked", channel="email", created_at=now - timedelta(hours=5))
    page = admin_client.get(reverse("admin:outreach_client_change", args=[client.pk])).content.decode()
    by_sequence = page[page.index('id="dashboard-by-sequence"') :]
    by_sequence = by_sequence[: by_sequence.index("</table>")]
    assert '<td class="num">50.0%</td><td class="num">1</td><td class="num">25.0%</td>' in by_sequence
    assert "0.500" not in by_sequence and "0.250" not in by_sequence


# ---------------------------------------------------------------- x labels


@pytest.mark.parametrize("count", [37, 100])
def test_a_line_chart_with_many_dates_prints_a_few_labels_but_every_point(count):
    dates = _dates(count)
    html = line_chart("Weights", dates, [Series("a", [0.1 + i / 1000 for i in range(count)])], chart_id="w")
    labels = X_LABEL.findall(html)
    assert 2 <= len(labels) <= 8
    assert labels[0] == dates[0] and labels[-1] == dates[-1]
    assert html.count("<circle") == count  # every point is drawn
    assert html.count('<tr><th scope="row">') == count  # and every date is in the table


def test_label_indexes_are_evenly_spread_and_keep_both_ends():
    shown = label_indexes(100, longest=10, room=440)
    assert shown[0] == 0 and shown[-1] == 99 and len(shown) <= 8
    gaps = [b - a for a, b in zip(shown, shown[1:], strict=False)]
    assert max(gaps) - min(gaps) <= 1
    assert label_indexes(5, longest=10, room=440) == [0, 1, 2, 3, 4]
    assert len(label_indexes(1000, longest=2, room=440)) == 8  # short labels: at most 8 all the same


# ---------------------------------------------------------------- ticks


def test_count_axes_get_whole_number_ticks_on_a_nice_step():
    html = line_chart("Sends", ["w1", "w2", "w3"], [Series("sends", [12, 1089, 540])], chart_id="c")
    texts = Y_TICK.findall(html)
    assert texts and all(re.fullmatch(r"\d+", text) for text in texts), texts
    ticks = [int(text) for text in texts]
    assert ticks[0] == 0 and ticks[-1] >= 1089
    steps = {b - a for a, b in zip(ticks, ticks[1:], strict=False)}
    assert len(steps) == 1 and _is_nice(steps.pop())
    assert 3 <= len(ticks) <= 7


@pytest.mark.parametrize("high", [1, 2, 3, 7, 9, 11, 44, 1089, 12345])
def test_integer_ticks_are_never_fractional(high):
    ticks = nice_ticks(0, high, integer=True)
    assert all(float(tick).is_integer() for tick in ticks)
    assert ticks[0] == 0 and ticks[-1] >= high
    step = ticks[1] - ticks[0]
    assert step >= 1 and _is_nice(step)
    assert len(ticks) - 1 <= 6


def test_small_counts_are_not_split_into_halves():
    html = line_chart("Meetings", ["w1", "w2"], [Series("meetings", [0, 1])], chart_id="m")
    assert Y_TICK.findall(html) == ["0", "1"]


def test_rate_axes_keep_decimal_ticks():
    html = line_chart("Weights", ["a", "b"], [Series("fit", [0.25, 0.41])], chart_id="f")
    texts = Y_TICK.findall(html)
    assert texts[0] in ("0.0", "0.00") and float(texts[-1]) >= 0.41
    assert len({len(text) for text in texts}) == 1  # the same number of decimals on every tick


# ---------------------------------------------------------------- distinct leads per sequence


@pytest.mark.django_db
def test_a_re_planned_lead_is_counted_once_under_the_sequence_it_was_enrolled_with():
    client = ClientFactory()
    now = timezone.now()
    replanned, steady = LeadFactory(client=client), LeadFactory(client=client)
    enrollment = EnrollmentFactory(lead=replanned, client=client, planned_sequence="email>sms")
    # Touch 1 was planned with the enrolment; a re-plan wrote touches 2 and 3 with another planned sequence.
    for number, (days, plan) in enumerate([(5, "email>sms"), (3, "linkedin>email>sms"), (1, "sms>email")], 1):
        sent = ActivityFactory(
            lead=replanned, action="email_sent", channel="email", created_at=now - timedelta(days=days)
        )
        ScheduledTouchFactory(
            lead=replanned,
            enrollment=enrollment,
            sequence_id=enrollment.sequence_id,
            touch_number=number,
            status="sent",
            activity=sent,
            planned_sequence=plan,
        )
    sent = ActivityFactory(lead=steady, action="email_sent", channel="email", created_at=now - timedelta(days=2))
    ScheduledTouchFactory(lead=steady, status="sent", activity=sent, planned_sequence="email>sms")
    ActivityFactory(lead=replanned, action="email_replied", channel="email", created_at=now - timedelta(hours=3))

    rows = sequence_rates(client, since=now - timedelta(days=30))

    assert [(row["sequence"], row["leads"], row["replied"]) for row in rows] == [("email → sms", 2, 1)]
    assert rows[0]["reply_percent"] == "50.0%"


@pytest.mark.django_db
def test_a_re_enrolled_lead_is_counted_once_under_its_latest_enrollment():
    client = ClientFactory()
    now = timezone.now()
    lead = LeadFactory(client=client)
    first = EnrollmentFactory(lead=lead, client=client, planned_sequence="email>sms", state="finished",
                              ended_at=now - timedelta(days=10), end_reason="sequence_complete")  # fmt: skip
    second = EnrollmentFactory(lead=lead, client=client, planned_sequence="linkedin>email")
    for enrollment, days in ((first, 20), (second, 2)):
        sent = ActivityFactory(lead=lead, action="email_sent", channel="email", created_at=now - timedelta(days=days))
        ScheduledTouchFactory(
            lead=lead,
            enrollment=enrollment,
            sequence_id=enrollment.sequence_id,
            status="sent",
            activity=sent,
            planned_sequence=enrollment.planned_sequence,
        )

    rows = sequence_rates(client, since=now - timedelta(days=30))

    assert [(row["sequence"], row["leads"]) for row in rows] == [("linkedin → email", 1)]


@pytest.mark.django_db
def test_the_sequence_table_says_what_it_counts(admin_client):
    client = ClientFactory()
    page = admin_client.get(reverse("admin:outreach_client_change", args=[client.pk])).content.decode()
    table = page[page.index('id="dashboard-by-sequence"') :]
    assert "counted once" in table[: table.index("</caption>")]
    assert '<th scope="col">Leads sent to (each once)</th>' in table
