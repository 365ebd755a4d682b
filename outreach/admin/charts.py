"""Charts for the admin, drawn on the server as SVG (the machine may be offline: no CDN, no script).

Every chart is a <figure> whose SVG is hidden from assistive technology and
followed by a table of the same numbers, visually hidden but read by screen
readers. The functions here only compute geometry; the templates under
admin/outreach/charts/ draw it.
"""

from __future__ import annotations

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


def line_chart(title: str, x_labels: Sequence[str], series: Sequence[Series], *, chart_id: str) -> SafeString:
    """One line per series over evenly spaced x labels (dates, weeks); a gap where a value is None."""
    left, top, width, height = 48, 10, 440, 160
    values = [v for s in series for v in s.values if v is not None]
    high = max(values, default=1.0) or 1.0
    step = width / max(len(x_labels) - 1, 1)

    def point(i: int, value: float) -> tuple[str, str]:
        return _fmt(left + i * step), _fmt(top + height - value / high * height)

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
    return render_to_string(
        "admin/outreach/charts/lines.html",
        {
            "title": title,
            "chart_id": chart_id,
            "lines": lines,
            "x_labels": [{"text": text, "x": point(i, 0)[0]} for i, text in enumerate(x_labels)],
            "ticks": [{"text": _fmt(high * f), "y": point(0, high * f)[1]} for f in (0, 0.5, 1)],
            "table": [(label, [one.values[i] for one in series]) for i, label in enumerate(x_labels)],
            "names": [one.name for one in series],
            "axis_y": top + height,
            "axis_right": left + width,
            "legend_x": left + width + 12,
            "width": left + width + 170,
            "height": top + height + 30,
        },
    )
