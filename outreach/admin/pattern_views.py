"""Readable views of conversion patterns, one per type, drawn from whatever part of a pattern is usable.

A pattern may be partial or malformed (history keeps invalid ones): every
reader here skips what it cannot read instead of raising.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from engines.services.scoring.lead_score import DEFAULT_WEIGHTS
from outreach.models import ConversionPattern, PatternType

from .charts import Bar, Series, bar_chart, heat_map, line_chart

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
        PatternType.WHEN: _when,
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
    return {"chart": chart, "rows": rows, "by": by, "activation": _dict(data.get("activation"))}


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


def _rates(entries: Any, index: str, upper: int) -> dict[int, float]:
    """{day or hour: conversion rate} from a list of entries with a rate, or arms with successes and trials."""
    rates: dict[int, float] = {}
    for entry in _list(entries):
        entry = _dict(entry)
        key = entry.get(index)
        if not isinstance(key, int) or isinstance(key, bool) or not 0 <= key <= upper:
            continue
        rate = _number(entry.get("conversion_rate"))
        trials, successes = _number(entry.get("trials")), _number(entry.get("successes"))
        if rate is None and trials and successes is not None:
            rate = successes / trials
        if rate is not None:
            rates[key] = rate
    return rates


def _when(data: dict) -> dict:
    days = _rates(data.get("day_arms"), "day_index", 6) or _rates(data.get("best_days"), "day_index", 6)
    hours = _rates(data.get("hour_arms"), "hour", 23) or _rates(data.get("best_hours"), "hour", 23)
    # Only the day and the hour rates are stored, not each (day, hour) pair: a cell is their product,
    # which ranks slots as the allocator does (best day, then best hour).
    grid = [[days.get(d, 0.0) * hours.get(h, 0.0) for h in range(24)] for d in range(7)]
    chart = heat_map(
        "Conversion by the lead's local day and hour (day rate × hour rate)",
        grid,
        rows=DAYS,
        cols=[f"{h:02d}" for h in range(24)],
        chart_id="when-heat-map",
    )
    gaps = [(key, days) for key, days in _dict(data.get("optimal_sequence_gaps")).items()]
    return {
        "chart": chart,
        "days": [(DAYS[d], rate) for d, rate in sorted(days.items(), key=lambda item: -item[1])],
        "hours": [(f"{h:02d}:00", rate) for h, rate in sorted(hours.items(), key=lambda item: -item[1])],
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
