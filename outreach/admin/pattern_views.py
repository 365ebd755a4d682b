"""Readable views of conversion patterns, one per type, drawn from whatever part of a pattern is usable.

A pattern may be partial or malformed (history keeps invalid ones): every
reader here skips what it cannot read instead of raising.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from engines.rules.sending_window import EVERY_DAY, WORKING_DAYS, SendingWindow, sending_window
from engines.services.learning.evidence import OUTCOME_BOOKING, OUTCOME_RESPONSE
from engines.services.learning.stats import MIN_BUCKET
from engines.services.scoring.lead_score import DEFAULT_WEIGHTS
from outreach.models import ConversionPattern, PatternType

from .charts import Bar, Series, bar_chart, line_chart

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
WEIGHT_LABELS = {
    "data_quality": "Data quality",
    "authority": "Authority",
    "company_fit": "Company fit",
    "timing": "Timing",
}


def _number(value: Any) -> float | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok else None


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def wilson_interval(successes: float, trials: float, z: float = 1.96) -> tuple[float, float] | None:
    """95% Wilson score interval of a rate; None without trials."""
    if trials <= 0:
        return None
    p = min(max(successes / trials, 0.0), 1.0)
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(centre - half, 0.0), min(centre + half, 1.0)


def readable(pattern: ConversionPattern) -> SafeString:
    data = _dict(pattern.patterns)
    context = {"pattern": pattern, "data": data}
    renderers: dict[str, Callable[[dict], dict]] = {
        PatternType.WHO: _who,
        # WHEN is read against the client's sending window: an hour outside it is ignored by the planner.
        PatternType.WHEN: lambda data: _when(data, sending_window(pattern.client)),
        PatternType.HOW: _how,
        PatternType.WHAT: _what,
    }
    render = renderers.get(pattern.pattern_type)
    if render is not None:
        context.update(render(data))
    return render_to_string(f"admin/outreach/conversionpattern/{pattern.pattern_type}.html", context)


# ---------------------------------------------------------------- WHO


def _who(data: dict) -> dict:
    weights = _dict(data.get("recommended_weights"))
    bars = []
    for key, label in WEIGHT_LABELS.items():
        value = _number(weights.get(key))
        if value is not None:
            bars.append(Bar(label, value, f"{value:.2f}", secondary=DEFAULT_WEIGHTS[key]))
    rows = [
        {"label": label, "learned": _number(weights.get(key)), "default": DEFAULT_WEIGHTS[key]}
        for key, label in WEIGHT_LABELS.items()
    ]
    by = [
        (dimension, [_who_bucket(bucket, entry) for bucket, entry in _dict(buckets).items()])
        for dimension, buckets in _dict(data.get("conversion_rate_by")).items()
    ]
    chart = bar_chart(
        "Learned weights (bars) beside the default weights (markers)",
        bars,
        columns=("Component", "Learned", "Default"),
        chart_id="who-weights-chart",
    )
    model = _dict(data.get("model"))
    activation = _dict(data.get("activation"))
    interval = [_number(end) for end in _list(activation.get("interval"))]
    return {
        "chart": chart,
        "rows": rows,
        "by": by,
        "activation": activation,
        "interval": interval if len(interval) == 2 and None not in interval else None,
        "confidence": _number(data.get("confidence")),
        "shrinkage": _number(model.get("shrinkage_toward_learned")),
        "deviation": _number(model.get("deviation_statistic")),
        "degrees": model.get("deviation_degrees_of_freedom"),
    }


def _who_bucket(bucket: str, entry: Any) -> dict[str, object]:
    """One row of a WHO breakdown: the detector stores each bucket's smoothed rate with its lift, leads and
    conversions (learning.who.RateEntry); a pattern written by hand may give the rate alone."""
    fields = _dict(entry) if isinstance(entry, dict) else {"conversion_rate": entry}
    rate = _number(fields.get("conversion_rate"))
    return {
        "bucket": bucket,
        "percent": rate * 100 if rate is not None else None,
        "lift": _number(fields.get("lift")),
        "leads": _number(fields.get("sample_size")),
        "conversions": _number(fields.get("conversions")),
    }


def weights_over_time(patterns: Iterable[ConversionPattern]) -> SafeString | None:
    """A line per learned weight across a client's WHO patterns, oldest first; None with fewer than one."""
    points = []
    for pattern in patterns:
        weights = _dict(_dict(pattern.patterns).get("recommended_weights"))
        points.append((pattern.computed_at, {key: _number(weights.get(key)) for key in WEIGHT_LABELS}))
    if not points:
        return None
    points.sort(key=lambda point: point[0])
    return line_chart(
        "Learned weights over time",
        [f"{at:%Y-%m-%d}" for at, _ in points],
        [Series(label, [values[key] for _, values in points]) for key, label in WEIGHT_LABELS.items()],
        chart_id="weights-over-time",
    )


# ---------------------------------------------------------------- WHEN

# The colour scale of the day × hour heat map: a single blue hue from pale (rate 0) to dark (the top of the scale),
# readable by the colour-blind and ordered by lightness, so that the order of the rates survives greyscale.
LOW_COLOUR = (0xE3, 0xEE, 0xF9)
HIGH_COLOUR = (0x08, 0x30, 0x6B)
CELL_WIDTH, CELL_HEIGHT = 42, 30
OUTCOME_LABELS = {OUTCOME_BOOKING: "booking rate", OUTCOME_RESPONSE: "reply-or-booking rate"}


def _index(value: Any, upper: int) -> int | None:
    """A day (upper 6) or an hour (upper 23) as the detector stores it: a whole number, never a bool or a float."""
    ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= upper
    return value if ok else None


def _count(value: Any) -> int | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
    return value if ok else None


@dataclass(frozen=True)
class JointCell:
    """The touches sent on one lead-local day at one hour, and how many of them earned the pattern's outcome."""

    day: int
    hour: int
    successes: int
    trials: int

    @property
    def rate(self) -> float:
        return self.successes / self.trials

    @property
    def thin(self) -> bool:
        # The detectors judge no bucket with fewer touches than this: a rate read from one is mostly noise.
        return self.trials < MIN_BUCKET


def _joint_cells(entries: list[Any]) -> tuple[dict[tuple[int, int], JointCell], int]:
    """The readable cells of `day_hour_arms` by (day, hour), and how many entries were left out.

    An entry is left out when its day is not 0-6, its hour not 0-23, its counts not whole numbers, it has no
    touch or more successes than touches, or it repeats a cell already read (the detector writes each cell once,
    so a repeat is not evidence the first entry lacked).
    """
    cells: dict[tuple[int, int], JointCell] = {}
    skipped = 0
    for entry in entries:
        entry = _dict(entry)
        day, hour = _index(entry.get("day_index"), 6), _index(entry.get("hour"), 23)
        successes, trials = _count(entry.get("successes")), _count(entry.get("trials"))
        if day is None or hour is None or successes is None or not trials or successes > trials:
            skipped += 1
        elif (day, hour) in cells:
            skipped += 1
        else:
            cells[day, hour] = JointCell(day, hour, successes, trials)
    return cells, skipped


def _colour(share: float) -> tuple[str, str]:
    """The fill of a cell `share` (0-1) of the way up the scale, and a text colour readable on it."""
    red, green, blue = (round(low + (high - low) * share) for low, high in zip(LOW_COLOUR, HIGH_COLOUR, strict=True))
    luminance = (0.2126 * red + 0.7152 * green + 0.0722 * blue) / 255
    return f"#{red:02x}{green:02x}{blue:02x}", "#ffffff" if luminance < 0.5 else "#1b1b1b"


def _compact(count: int) -> str:
    """A count short enough for a cell, "1.2k/46k" at most (the exact counts are in its tooltip and the table)."""
    if count < 1000:
        return str(count)
    if count < 9950:  # 9.9k at most: 9,950 would read 10.0k
        return f"{count / 1000:.1f}k"
    return f"{round(count / 1000)}k" if count < 999_500 else f"{count / 1_000_000:.1f}M"


def _hours(window: SendingWindow) -> str:
    return f"{window.start:02d}:00-{window.end:02d}:00"


def _days(window: SendingWindow) -> str:
    """The window's days as the page names them ("Monday to Friday" for the default working days)."""
    if window.days == WORKING_DAYS:
        return "Monday to Friday"
    return "every day" if window.days == EVERY_DAY else ", ".join(DAYS[day] for day in sorted(window.days))


def _joint_heat_map(cells: dict[tuple[int, int], JointCell], window: SendingWindow, rate_label: str) -> SafeString:
    """Day rows × hour columns, each cell coloured by its own rate and labelled with it and its counts."""
    left, top = 44, 34
    # The top of the scale is the best rate of the cells with enough touches to judge: a thin cell's 1 in 2
    # would otherwise wash every credible difference out. Thin cells above it take the top colour.
    credible = max((cell.rate for cell in cells.values() if not cell.thin), default=0.0)
    peak = credible or max((cell.rate for cell in cells.values()), default=0.0) or 1.0
    drawn: dict[tuple[int, int], dict[str, Any]] = {}
    for (day, hour), cell in sorted(cells.items()):
        fill, ink = _colour(min(cell.rate / peak, 1.0))
        counts = f"{_compact(cell.successes)}/{_compact(cell.trials)}"
        x, y = left + hour * CELL_WIDTH, top + day * CELL_HEIGHT
        drawn[day, hour] = {
            "cell": cell,
            "x": x,
            "y": y,
            "text_x": x + CELL_WIDTH / 2,
            "fill": fill,
            "ink": ink,
            "percent": f"{cell.rate:.1%}",
            "counts": counts,
            # Cells are sized for "12.5%" over "45/120"; the longest counts ("999k/999k") are set smaller to fit.
            "counts_size": 9 if len(counts) <= 7 else 7.5,
            "outside": not window.allows_hour(hour) or day not in window.days,
        }
    columns = [
        {
            "hour": hour,
            "text": f"{hour:02d}",
            "x": left + hour * CELL_WIDTH,
            "centre": left + hour * CELL_WIDTH + CELL_WIDTH / 2,
            "outside": not window.allows_hour(hour),
        }
        for hour in range(24)
    ]
    rows = [
        {
            "text": text,
            "y": top + day * CELL_HEIGHT + CELL_HEIGHT / 2 + 4,
            "band_y": top + day * CELL_HEIGHT,
            "outside": day not in window.days,
        }
        for day, text in enumerate(DAYS)
    ]
    bottom = top + 7 * CELL_HEIGHT
    edges = [left + hour * CELL_WIDTH for hour in (window.start, window.end) if 0 < hour < 24]
    return render_to_string(
        "admin/outreach/charts/when_heat_map.html",
        {
            "title": f"{rate_label.capitalize()} by the lead's local day and hour",
            "chart_id": "when-heat-map",
            "cells": list(drawn.values()),
            "empty": [
                {"x": left + hour * CELL_WIDTH, "y": top + day * CELL_HEIGHT, "day": DAYS[day], "hour": hour}
                for day in range(7)
                for hour in range(24)
                if (day, hour) not in cells
            ],
            "columns": columns,
            "row_labels": rows,
            "edges": edges,
            "width": CELL_WIDTH,
            "height": CELL_HEIGHT,
            "bottom": bottom,
            "svg_width": left + 24 * CELL_WIDTH + 4,
            "svg_height": bottom + 4,
            "table": [(label, [drawn.get((day, hour)) for hour in range(24)]) for day, label in enumerate(rows)],
            "window": _hours(window),
            "window_days": _days(window),
            "any_outside": any(column["outside"] for column in columns) or window.days != EVERY_DAY,
            "low_colour": _colour(0.0)[0],
            "high_colour": _colour(1.0)[0],
            "peak": f"{peak:.1%}",
            "clamped": any(cell.rate > peak for cell in cells.values()),
            "rate_label": rate_label,
            "min_bucket": MIN_BUCKET,
        },
    )


def _allows(window: SendingWindow, key: str, index: int) -> bool:
    return index in window.days if key == "day_index" else window.allows_hour(index)


def _buckets(entries: Any, key: str, upper: int, window: SendingWindow) -> list[dict[str, Any]]:
    """Rows of a stored list of days or hours (best_days, day_rates, ...), in the stored order: the planners read
    best_days and best_hours in that order, so the page must not re-rank them."""
    rows = []
    for entry in _list(entries):
        entry = _dict(entry)
        index = _index(entry.get(key), upper)
        if index is None:
            continue
        rate = _number(entry.get("conversion_rate"))
        interval = _list(entry.get("interval"))
        low, high = (_number(interval[0]), _number(interval[1])) if len(interval) == 2 else (None, None)
        rows.append(
            {
                "label": DAYS[index] if key == "day_index" else f"{index:02d}:00",
                "percent": rate * 100 if rate is not None else None,
                "lift": _number(entry.get("lift")),
                "low": low,
                "high": high,
                "sample_size": _count(entry.get("sample_size")),
                "q_value": _number(entry.get("q_value")),
                "outside": not _allows(window, key, index),
            }
        )
    return rows


def _when(data: dict, window: SendingWindow) -> dict:
    outcome = data.get("outcome")
    rate_label = OUTCOME_LABELS.get(outcome, "conversion rate") if isinstance(outcome, str) else "conversion rate"
    # Only the joint counts are evidence for a (day, hour) slot: a day's rate times an hour's rate is not (the
    # best day's touches may all have gone out at other hours). A pattern stored before the detector kept the
    # joint counts gets no heat map.
    stored = "day_hour_arms" in data
    cells, skipped = _joint_cells(_list(data.get("day_hour_arms")))
    gaps = [(key, days) for key, days in _dict(data.get("optimal_sequence_gaps")).items()]
    return {
        "chart": _joint_heat_map(cells, window, rate_label) if cells else None,
        "joint_stored": stored,
        "skipped": skipped,
        "rate_label": rate_label,
        "window": _hours(window),
        "window_days": _days(window),
        "window_phrase": {WORKING_DAYS: "on the lead's working days", EVERY_DAY: "every day"}.get(
            window.days, f"on {_days(window)}"
        ),
        "best_days": _buckets(data.get("best_days"), "day_index", 6, window),
        "best_hours": _buckets(data.get("best_hours"), "hour", 23, window),
        "day_rates": _buckets(data.get("day_rates"), "day_index", 6, window),
        "hour_rates": _buckets(data.get("hour_rates"), "hour", 23, window),
        "gaps": gaps,
    }


# ---------------------------------------------------------------- HOW


def _sequence_rows(entries: Any) -> list[dict]:
    rows = []
    for entry in _list(entries):
        entry = _dict(entry)
        channels = [c for c in _list(entry.get("sequence")) if isinstance(c, str)]
        trials = _number(entry.get("sample_size")) or _number(entry.get("trials"))
        rate = _number(entry.get("conversion_rate"))
        successes = _number(entry.get("conversions")) or _number(entry.get("successes"))
        if rate is None and trials and successes is not None:
            rate = successes / trials
        if successes is None and rate is not None and trials:
            successes = round(rate * trials)
        interval = wilson_interval(successes, trials) if successes is not None and trials else None
        rows.append(
            {
                "sequence": " → ".join(channels) or "?",
                "rate": rate,
                "sample_size": int(trials) if trials else None,
                "interval": interval,
                "lift": _number(entry.get("lift")),
            }
        )
    return rows


def _how(data: dict) -> dict:
    winners = _sequence_rows(data.get("winning_sequences"))
    chart = bar_chart(
        "Conversion rate of the winning sequences",
        [Bar(row["sequence"], row["rate"], f"{row['rate']:.1%}") for row in winners if row["rate"] is not None],
        columns=("Sequence", "Conversion rate"),
        chart_id="how-chart",
    )
    tiers = []
    for tier, channels in _dict(data.get("channel_effectiveness_by_tier")).items():
        for channel, stats in _dict(channels).items():
            stats = _dict(stats)
            tiers.append((tier, channel, _number(stats.get("conversion_rate")), stats.get("sample_size")))
    return {
        "chart": chart if winners else None,
        "winners": winners,
        "arms": _sequence_rows(data.get("arms")),
        "tiers": tiers,
        "first_channel": data.get("best_first_channel"),
    }


# ---------------------------------------------------------------- WHAT


def _judged(part: Any) -> list[dict]:
    """Rows for the effective and ineffective items of a WHAT part, with their lifts when stored."""
    part = _dict(part)
    lifts = _dict(part.get("lift"))
    rows = []
    for verdict in ("effective", "ineffective"):
        for name in _list(part.get(verdict)):
            if not isinstance(name, str):
                continue
            stats = _dict(lifts.get(name))
            interval = _list(stats.get("interval"))
            rows.append(
                {
                    "name": name,
                    "verdict": verdict,
                    "lift": _number(stats.get("lift")),
                    "interval": interval if len(interval) == 2 else None,
                    "sample_size": stats.get("sample_size"),
                }
            )
    return rows


def _what(data: dict) -> dict:
    lifts = [(flag, _number(value)) for flag, value in _dict(data.get("personalization_lift")).items()]
    chart = bar_chart(
        "Personalization lift (1 = no effect)",
        [Bar(flag.removeprefix("has_").replace("_", " "), value, f"×{value:.2f}") for flag, value in lifts if value],
        columns=("Personalization", "Lift"),
        chart_id="what-chart",
    )
    lengths = [
        (channel, _dict(bounds).get("min_words"), _dict(bounds).get("max_words"))
        for channel, bounds in _dict(data.get("optimal_length")).items()
    ]
    return {
        "pain_points": _judged(data.get("pain_points")),
        "ctas": _judged(data.get("ctas")),
        "chart": chart if lifts else None,
        "lengths": lengths,
    }
