"""WHEN: the lead's local days and hours that earn answers, the gaps converting sequences used, the converting touch.

Unit: a touch of a finished lead. By default a touch is positive when it
earned a booking or a reply (`outcome` in the pattern says which): replies
are many times more frequent than bookings, so days and hours are ranked on
far more evidence. Days (Monday=0) and hours are the lead's local ones, as the
content snapshot recorded them; touches without them are left out.

Each day's and hour's rate is smoothed toward the overall rate; buckets with
fewer than MIN_BUCKET touches are not ranked. `optimal_sequence_gaps` holds
the median days between touch N and N+1 of the sequences that converted,
before the conversion, where at least MIN_GAP_SAMPLES of them had that step.
`converting_touch_distribution` counts the touches credited with a booking by
touch number; `peak_converting_touch` is the most frequent (null without any).
"""

from __future__ import annotations

from datetime import datetime

import numpy as np

from engines.services.detectors.common import (
    CONVERTED,
    MIN_BUCKET,
    MIN_TOUCH_EVENTS,
    MIN_TOUCHES,
    OUTCOME_BOOKING,
    OUTCOME_RESPONSE,
    VALID_DAYS,
    WINDOW_DAYS,
    DetectionResult,
    Evidence,
    confidence,
    rate,
    require_events,
    run_detector,
    smoothed_rate,
)
from outreach.models import Client, PatternType

MIN_GAP_SAMPLES = 10
MAX_GAP_DAYS = 60.0
DAY = 86_400.0


def detect_when(
    client: Client,
    *,
    now: datetime | None = None,
    window_days: int = WINDOW_DAYS,
    valid_days: int = VALID_DAYS,
    evidence: Evidence | None = None,
    outcome: str = OUTCOME_RESPONSE,
) -> DetectionResult:
    """Learn and save the client's WHEN pattern; nothing is saved without enough finished touches and outcomes."""
    return run_detector(
        PatternType.WHEN,
        lambda e: _learn(e, outcome),
        client,
        now=now,
        window_days=window_days,
        valid_days=valid_days,
        evidence=evidence,
    )


def _learn(evidence: Evidence, outcome: str) -> dict:
    positive = evidence.t_positive(outcome)
    known = evidence.t_finished & (evidence.t_day >= 0) & (evidence.t_hour >= 0)
    touches, positives = int(known.sum()), int(positive[known].sum())
    event = "bookings" if outcome == OUTCOME_BOOKING else "bookings or replies"
    require_events(touches, positives, unit="touches", event=event, min_units=MIN_TOUCHES, min_events=MIN_TOUCH_EVENTS)
    base = positives / touches
    distribution = _converting_touches(evidence)
    return {
        "best_days": _ranked(evidence.t_day[known], positive[known], 7, "day_index", base),
        "best_hours": _ranked(evidence.t_hour[known], positive[known], 24, "hour", base),
        "optimal_sequence_gaps": _gaps(evidence),
        "converting_touch_distribution": {str(n): count for n, count in distribution.items()},
        "peak_converting_touch": max(distribution, key=lambda n: (distribution[n], -n)) if distribution else None,
        "base_rate": rate(base),
        "positives": positives,
        "outcome": outcome,
        "unit": "touches",
        "window_days": evidence.window_days,
        "sample_size": touches,
        "confidence": confidence(positives),
    }


def _ranked(bucket: np.ndarray, positive: np.ndarray, size: int, key: str, base: float) -> list[dict]:
    """Buckets with at least MIN_BUCKET touches, best smoothed rate first."""
    totals = np.bincount(bucket, minlength=size)
    positives = np.bincount(bucket, weights=positive, minlength=size)
    smoothed = smoothed_rate(positives, totals, base)
    ranked = sorted(np.flatnonzero(totals >= MIN_BUCKET), key=lambda i: (-smoothed[i], i))
    return [
        {
            key: int(i),
            "conversion_rate": rate(smoothed[i]),
            "lift": round(float(smoothed[i] / base), 3),
            "sample_size": int(totals[i]),
        }
        for i in ranked
    ]


def _gaps(evidence: Evidence) -> dict[str, float]:
    """Median days from touch N to N+1 in converting sequences, up to the conversion."""
    lead, seq, touch, at = evidence.t_lead, evidence.t_seq, evidence.t_touch, evidence.t_at
    converted = evidence.lead_state[lead[:-1]] == CONVERTED
    step = (
        converted
        & (lead[1:] == lead[:-1])
        & (seq[1:] == seq[:-1])
        & (touch[:-1] >= 1)
        & (touch[1:] == touch[:-1] + 1)
        & (at[1:] <= evidence.lead_converted_at[lead[:-1]])
    )
    first = touch[:-1][step]
    days = (at[1:] - at[:-1])[step] / DAY
    gaps = {}
    for n in np.unique(first):
        of_n = days[first == n]
        if len(of_n) >= MIN_GAP_SAMPLES:
            gaps[f"touch_{n}_to_{n + 1}"] = round(min(max(float(np.median(of_n)), 0.1), MAX_GAP_DAYS), 1)
    return gaps


def _converting_touches(evidence: Evidence) -> dict[int, int]:
    numbers = evidence.t_touch[evidence.t_booked & (evidence.t_touch >= 1)]
    counts = np.bincount(numbers)
    return {int(n): int(counts[n]) for n in np.flatnonzero(counts)}
