"""The WHEN pattern page: the joint day × hour evidence as a heat map with counts and a legend, the best days and
hours in the order the planners use them, and the client's sending window."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from engines.rules.pattern_checks import pattern_errors
from engines.services.learning.stats import MIN_BUCKET
from tests.factories import ClientFactory, ConversionPatternFactory, when_patterns

pytestmark = pytest.mark.django_db

MON, TUE, WED, SAT = 0, 1, 2, 5


def _arm(day: object, hour: object, successes: object, trials: object) -> dict[str, object]:
    return {"day_index": day, "hour": hour, "successes": successes, "trials": trials}


def _arms() -> list[dict[str, object]]:
    """Weekdays 08:00-17:00 with 40 touches each, plus a few cells the tests look at."""
    special = {(MON, 9), (TUE, 10)}
    arms = [_arm(day, hour, 2, 40) for day in range(5) for hour in range(8, 18) if (day, hour) not in special]
    return [
        *arms,
        _arm(MON, 9, 3, 41),  # 7.3%
        _arm(TUE, 10, 6, 40),  # 15.0%: the best cell with enough touches, the top of the scale
        _arm(WED, 20, 5, 35),  # outside a window ending at 18:00 or 19:00
        _arm(SAT, 11, 3, 12),  # 25.0%, but thin
    ]


def _entry(key: str, index: int, rate: float, lift: float, low: float, high: float, q: float) -> dict[str, object]:
    return {key: index, "conversion_rate": rate, "lift": lift, "interval": [low, high], "sample_size": 400,
            "q_value": q}  # fmt: skip


def _data(**overrides: object) -> dict:
    wednesday = _entry("day_index", WED, 0.07, 1.3, 1.05, 1.6, 0.02)
    tuesday = _entry("day_index", TUE, 0.12, 1.5, 1.2, 1.9, 0.01)
    saturday = _entry("day_index", SAT, 0.02, 0.4, 0.2, 0.8, 0.04)
    ten, eight_pm = _entry("hour", 10, 0.08, 1.4, 1.1, 1.8, 0.01), _entry("hour", 20, 0.15, 2.1, 1.3, 3.4, 0.03)
    # Stored order is the planners' order: Wednesday before Tuesday, 10:00 before 20:00, though the later ones
    # have the higher rates.
    data = when_patterns(
        best_days=[wednesday, tuesday],
        best_hours=[ten, eight_pm],
        day_rates=[saturday, tuesday],
        hour_rates=[eight_pm, ten],
        day_hour_arms=_arms(),
        outcome="booking_or_reply",
    )
    return {**data, **overrides}


def _page(admin_client, data: dict, **window: object) -> str:
    """The page of a WHEN pattern of a client with the product's default window unless `window` says otherwise (the
    factory's clients are open at every hour of every day)."""
    window = {"sending_window_start": 7, "sending_window_end": 19, "sends_on_weekends": False, **window}
    pattern = ConversionPatternFactory.create(
        client=ClientFactory(**window),
        pattern_type="when",
        patterns=data,
        computed_at=timezone.now() - timedelta(hours=1),
    )
    response = admin_client.get(reverse("admin:outreach_conversionpattern_change", args=[pattern.pk]))
    assert response.status_code == 200
    return response.content.decode()


def _cell(page: str, day: int, hour: int) -> str:
    """The SVG group of one cell of the heat map."""
    match = re.search(rf'<g class="when-cell[^"]*" data-day="{day}" data-hour="{hour}">.*?</g>', page, re.S)
    assert match, f"no cell for day {day} hour {hour}"
    return match.group(0)


def _table(page: str, table_id: str) -> str:
    start = page.index(f'id="{table_id}"')
    return page[start : page.index("</table>", start)]


def test_the_pattern_these_tests_draw_is_a_valid_when_pattern():
    assert pattern_errors("when", _data()) == []


def test_each_cell_shows_its_own_rate_and_counts_coloured_on_a_legend(admin_client):
    page = _page(admin_client, _data())
    assert 'data-state="active"' in page
    heat = page[page.index('id="when-heat-map"') : page.index("</figure>")]
    monday_nine = _cell(heat, MON, 9)
    assert ">7.3%</text>" in monday_nine and ">3/41</text>" in monday_nine
    assert "3 of 41 touches" in monday_nine
    # One drawn cell per (day, hour) with touches; every other slot is blank, not a product of two rates.
    arms = _arms()
    assert len(re.findall(r'<g class="when-cell', heat)) == len(arms)
    assert heat.count('class="when-cell when-empty"') == 7 * 24 - len(arms)
    assert "×" not in heat and "heat-cell" not in heat
    # The scale runs from 0 to the best cell with enough touches (Tuesday 10:00, 15.0%), drawn darkest.
    legend = heat[heat.index('id="when-heat-map-legend"') :]
    assert "Reply-or-booking rate of the touches sent then" in legend
    assert '<span class="when-legend-low">0.0%</span>' in legend
    assert '<span class="when-legend-high">15.0%</span>' in legend
    assert 'fill="#08306b"' in _cell(heat, TUE, 10)
    assert f"fewer than {MIN_BUCKET} touches" in legend and "blank: no touch sent then" in legend
    # The table read by screen readers has the exact counts too.
    assert "<td>3/41 (7.3%)</td>" in heat


def test_cells_with_few_touches_are_marked_as_thin_evidence(admin_client):
    heat = _page(admin_client, _data())
    saturday = _cell(heat, SAT, 11)
    assert 'class="when-cell when-thin' in saturday and 'fill="url(#when-heat-map-thin)"' in saturday
    assert f"thin evidence (fewer than {MIN_BUCKET} touches)" in saturday
    # Above the top of the scale it takes the darkest colour, and the legend says why.
    assert 'fill="#08306b"' in saturday and "thin cells above 15.0% take the darkest colour" in heat
    assert "<td>3/12 (25.0%), thin evidence</td>" in heat
    assert "when-thin" not in _cell(heat, MON, 9)


def test_the_sending_window_is_shown_and_the_hours_outside_it_are_marked(admin_client):
    page = _page(admin_client, _data(), sending_window_start=8, sending_window_end=18)
    window = html.unescape(page[page.index('id="when-sending-window"') :])
    assert window.startswith(
        'id="when-sending-window">Sending window: Email and LinkedIn go out 08:00-18:00 on the lead\'s working days; '
        "SMS and calls keep the legal contact hours."
    )
    heat = page[page.index('id="when-heat-map"') : page.index("</figure>")]
    outside = [int(hour) for hour in re.findall(r'<rect class="when-outside" data-hour="(\d+)"', heat)]
    assert outside == [*range(8), 18, 19, 20, 21, 22, 23]
    assert "when-outside-cell" in _cell(heat, WED, 20) and "when-outside-cell" not in _cell(heat, MON, 9)
    assert heat.count('class="when-window-edge"') == 2
    assert (
        "outside the sending window (08:00-18:00, Monday to Friday)" in heat[heat.index('id="when-heat-map-legend"') :]
    )
    # A best hour outside the window is listed where it is stored, and said to be ignored.
    best_hours = _table(page, "best-hours")
    rows = best_hours.split("<tr")[2:]
    assert "10:00" in rows[0] and "outside the sending window" not in rows[0]
    assert "20:00" in rows[1] and "outside the sending window (08:00-18:00): ignored by the planner" in rows[1]
    # Among every hour judged it is only outside the window: only best hours are planned.
    hour_rates = _table(page, "hour-rates")
    assert "outside the sending window (08:00-18:00)" in hour_rates and "ignored" not in hour_rates


def test_the_days_outside_the_window_are_marked_too(admin_client):
    data = _data(best_days=[{"day_index": SAT, "conversion_rate": 0.2}, {"day_index": TUE, "conversion_rate": 0.1}])
    page = _page(admin_client, data)
    heat = page[page.index('id="when-heat-map"') : page.index("</figure>")]
    assert heat.count('class="when-outside-day"') == 2  # Saturday and Sunday
    assert "when-outside-cell" in _cell(heat, SAT, 11)
    assert "outside the sending window (07:00-19:00, Monday to Friday)" in heat
    best_days = _table(page, "best-days").split("<tr")[2:]
    assert (
        "Sat" in best_days[0]
        and "outside the sending window (Monday to Friday): email and LinkedIn pass it over" in best_days[0]
    )
    assert "outside" not in best_days[1]
    # A client that sends every day and at every hour has nothing outside its window.
    page = _page(admin_client, data, sending_window_start=0, sending_window_end=24, sends_on_weekends=True)
    assert "Email and LinkedIn go out 00:00-24:00 every day; SMS and calls keep the legal contact hours" in page
    assert "when-outside" not in page and "outside the sending window" not in page


def test_best_days_and_hours_keep_their_stored_order_with_lift_and_interval(admin_client):
    page = _page(admin_client, _data())
    best_days = _table(page, "best-days")
    assert best_days.index(">Wed<") < best_days.index(">Tue<")  # Tuesday's rate is higher, yet it comes second
    assert "12.0%" in best_days and "×1.50" in best_days and "1.20 – 1.90" in best_days
    assert '<td class="num">400</td>' in best_days and "0.0100" in best_days
    best_hours = _table(page, "best-hours")
    assert best_hours.index(">10:00<") < best_hours.index(">20:00<")
    assert "×2.10" in best_hours and "1.30 – 3.40" in best_hours and "15.0%" in best_hours
    # The per-bucket tables as stored, too.
    day_rates = _table(page, "day-rates")
    assert day_rates.index(">Sat<") < day_rates.index(">Tue<")
    hour_rates = _table(page, "hour-rates")
    assert hour_rates.index(">20:00<") < hour_rates.index(">10:00<")


def test_a_pattern_stored_before_the_joint_evidence_has_no_heat_map(admin_client):
    page = _page(admin_client, when_patterns())  # best days and hours only, as older detectors stored them
    assert "The joint day-and-hour evidence was not stored for this pattern" in page
    assert 'id="when-heat-map"' not in page and "when-cell" not in page and "heat-cell" not in page
    # Its best days and hours are still listed, in the stored order, without the statistics it lacks.
    best_days = _table(page, "best-days")
    assert best_days.index(">Tue<") < best_days.index(">Wed<") and "12.0%" in best_days
    assert "—" in best_days


@pytest.mark.parametrize(
    "bad",
    [
        _arm("1", 9, 1, 40),  # a day that is not a whole number
        _arm(1.0, 9, 1, 40),
        _arm(True, 9, 1, 40),
        _arm(7, 9, 1, 40),
        _arm(1, 24, 1, 40),  # no hour 24
        _arm(1, -1, 1, 40),
        _arm(1, 9, 1, -40),  # negative trials
        _arm(1, 9, -1, 40),
        _arm(1, 9, 41, 40),  # more successes than touches
        _arm(1, 9, 0, 0),  # no touch: no cell
        _arm(1, 9, "1", 40),
        _arm(1, 9, 1, 40.5),
        {"day_index": 1, "hour": 9},
        "Tue 09:00",
        None,
    ],
)
def test_malformed_arms_are_left_out_and_the_page_still_renders(admin_client, bad):
    page = _page(admin_client, _data(day_hour_arms=[_arm(MON, 9, 3, 41), bad]))
    assert ">3/41</text>" in _cell(page, MON, 9)
    assert len(re.findall(r'<g class="when-cell', page)) == 1
    assert "1 entry of the day-and-hour evidence could not be read and is left out." in page


def test_joint_evidence_with_no_readable_cell_draws_no_heat_map(admin_client):
    for arms in ("garbage", [], [_arm(1, 24, 1, 2), _arm(9, 1, 1, 2)]):
        page = _page(admin_client, _data(day_hour_arms=arms))
        assert "The joint day-and-hour evidence stored for this pattern has no readable cell" in page
        assert 'id="when-heat-map"' not in page and "when-cell" not in page
    assert "2 entries of the day-and-hour evidence could not be read and are left out." in page


def test_a_repeated_cell_keeps_its_first_entry(admin_client):
    page = _page(admin_client, _data(day_hour_arms=[_arm(MON, 9, 3, 41), _arm(MON, 9, 30, 41)]))
    assert ">3/41</text>" in _cell(page, MON, 9) and "30/41" not in page


def test_large_counts_are_shortened_in_the_cell_and_exact_in_its_tooltip(admin_client):
    page = _page(admin_client, _data(day_hour_arms=[_arm(TUE, 9, 1234, 45678), _arm(WED, 9, 999, 9999)]))
    tuesday = _cell(page, TUE, 9)
    assert ">1.2k/46k</text>" in tuesday and "1234 of 45678 touches" in tuesday
    assert ">999/10k</text>" in _cell(page, WED, 9)
    assert "<td>1234/45678 (2.7%)</td>" in page
