"""Charts for the admin, drawn on the server as SVG (the machine may be offline: no CDN, no script).

Every chart is a <figure> whose SVG is hidden from assistive technology and
followed by a table of the same numbers, visually hidden but read by screen
readers. The functions here only compute geometry; the templates under
admin/outreach/charts/ draw it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from django.template.loader import render_to_string
from django.utils.safestring import SafeString

# Colour-blind safe palette (Okabe-Ito).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
LABEL_WIDTH = 150
PLOT_WIDTH = 360
ROW_HEIGHT = 22


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    text: str  # what the bar's value reads as ("+12.0", "0.25")
    secondary: float | None = None  # a reference drawn as a thin marker (e.g. the default weight)


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def bar_chart(title: str, bars: Sequence[Bar], *, columns: Sequence[str] = ("", "Value"), chart_id: str) -> SafeString:
    """Horizontal bars, negative values to the left of a zero line; `secondary` values as markers."""
    values = [bar.value for bar in bars] + [bar.secondary for bar in bars if bar.secondary is not None]
    low, high = min([0.0, *values]), max([0.0, *values])
    span = (high - low) or 1.0
    zero = LABEL_WIDTH + (-low / span) * PLOT_WIDTH
    rows = []
    for i, bar in enumerate(bars):
        x_end = LABEL_WIDTH + (bar.value - low) / span * PLOT_WIDTH
        marker = None
        if bar.secondary is not None:
            marker = _fmt(LABEL_WIDTH + (bar.secondary - low) / span * PLOT_WIDTH)
        rows.append(
            {
                "bar": bar,
                "y": i * ROW_HEIGHT + 4,
                "text_y": i * ROW_HEIGHT + 16,
                "x": _fmt(min(zero, x_end)),
                "width": _fmt(max(abs(x_end - zero), 1.0)),
                "negative": bar.value < 0,
                "marker": marker,
                "value_x": _fmt(max(zero, x_end) + 4),
            }
        )
    return render_to_string(
        "admin/outreach/charts/bars.html",
        {
            "title": title,
            "chart_id": chart_id,
            "rows": rows,
            "columns": columns,
            "has_secondary": any(bar.secondary is not None for bar in bars),
            "zero": _fmt(zero),
            "width": LABEL_WIDTH + PLOT_WIDTH + 60,
            "height": len(bars) * ROW_HEIGHT + 8,
        },
    )


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]


NICE_STEPS = (1, 2, 5)  # axis steps are one of these times a power of ten
MAX_INTERVALS = 6  # at most this many steps between the lowest and the highest tick
MAX_X_LABELS = 8
CHAR_WIDTH = 6.5  # about one character of an 11px label, in SVG units


def nice_ticks(low: float, high: float, *, integer: bool = False) -> list[float]:
    """Evenly spaced axis ticks covering low..high, a step of 1, 2 or 5 x 10^k (never below 1 when `integer`)."""
    low, high = min(low, 0.0), max(high, 0.0)
    if high - low <= 0:
        high = low + 1.0
    raw = (high - low) / MAX_INTERVALS
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(n * power for n in (*NICE_STEPS, 10) if n * power >= raw)
    if integer:
        step = max(1.0, round(step))
    first, last = math.floor(low / step + 1e-9), math.ceil(high / step - 1e-9)
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    return [round(i * step, decimals) for i in range(first, last + 1)]


def tick_text(value: float, step: float) -> str:
    """A tick as it reads: no decimals for whole steps, else as many as the step has ("0.05")."""
    decimals = 0 if float(step).is_integer() else max(0, -math.floor(math.log10(step) + 1e-9))
    return f"{value:.{decimals}f}"


def label_indexes(count: int, *, longest: int, room: float) -> list[int]:
    """The x labels to print out of `count`: at most MAX_X_LABELS (fewer when long labels would not fit in
    `room`), evenly spread, always the first and the last."""
    fits = int(room // (longest * CHAR_WIDTH + 8)) + 1
    wanted = max(2, min(MAX_X_LABELS, fits))
    if count <= wanted:
        return list(range(count))
    return sorted({round(i * (count - 1) / (wanted - 1)) for i in range(wanted)})


def line_chart(
    title: str, x_labels: Sequence[str], series: Sequence[Series], *, chart_id: str, integer: bool | None = None
) -> SafeString:
    """One line per series over evenly spaced x labels (dates, weeks); a gap where a value is None.

    Every point is drawn, but only a few x labels (label_indexes); the y axis has "nice" ticks (nice_ticks),
    whole numbers when `integer` (by default: when every value is an int, as counts are).
    """
    left, top, width, height = 48, 10, 440, 160
    values = [v for s in series for v in s.values if v is not None]
    if integer is None:
        integer = all(isinstance(v, int) for v in values)
    ticks = nice_ticks(min(values, default=0.0), max(values, default=1.0), integer=integer)
    low, high = ticks[0], ticks[-1]
    step_y = ticks[1] - ticks[0]
    step = width / max(len(x_labels) - 1, 1)

    def point(i: int, value: float) -> tuple[str, str]:
        return _fmt(left + i * step), _fmt(top + height - (value - low) / (high - low) * height)

    lines = []
    for k, one in enumerate(series):
        points = [point(i, v) for i, v in enumerate(one.values) if v is not None]
        lines.append(
            {
                "name": one.name,
                "colour": PALETTE[k % len(PALETTE)],
                "points": " ".join(f"{x},{y}" for x, y in points),
                "dots": points,
                "legend_y": top + 12 + k * 16,
            }
        )
    shown = label_indexes(len(x_labels), longest=max(map(len, x_labels), default=0), room=width)
    return render_to_string(
        "admin/outreach/charts/lines.html",
        {
            "title": title,
            "chart_id": chart_id,
            "lines": lines,
            "x_labels": [{"text": x_labels[i], "x": point(i, low)[0]} for i in shown],
            "ticks": [{"text": tick_text(value, step_y), "y": point(0, value)[1]} for value in ticks],
            "table": [(label, [one.values[i] for one in series]) for i, label in enumerate(x_labels)],
            "names": [one.name for one in series],
            "axis_y": point(0, 0.0)[1],  # the zero line (the bottom unless a value is negative)
            "labels_y": top + height + 16,
            "axis_right": left + width,
            "legend_x": left + width + 12,
            "width": left + width + 170,
            "height": top + height + 30,
        },
    )
