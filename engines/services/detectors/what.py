"""WHAT: which pain points, calls to action, personalization and lengths earn answers.

Unit: a touch of a finished lead, described by its content snapshot. By
default a touch is positive when it earned a booking or a reply (`outcome`
in the pattern says which).

For every pain point, CTA and personalization flag: the rate of the touches
that used it against the rate of those that did not, both smoothed toward the
overall rate, their ratio (`lift`) and the 99% interval of that ratio. A
feature is `effective` only when the whole interval lies above 1 and
`ineffective` only when it lies below 1; features used (or not used) by fewer
than MIN_BUCKET touches are not judged. `personalization_lift` holds the lift
of each flag that could be measured. `optimal_length` gives, per channel, the
word-count band with the best smoothed rate (among bands with MIN_BUCKET
touches, when at least two qualify), as the word counts seen in that band,
with its lift over the channel's other lengths and the interval of that lift.
The same lifts are repeated per channel (`by_channel`) for the channels with
enough evidence of their own.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np

from engines.services.detectors.common import (
    CHANNELS,
    CTAS,
    FLAGS,
    MIN_BUCKET,
    MIN_TOUCH_EVENTS,
    MIN_TOUCHES,
    OUTCOME_BOOKING,
    OUTCOME_RESPONSE,
    PAIN_POINTS,
    VALID_DAYS,
    WINDOW_DAYS,
    DetectionResult,
    Evidence,
    confidence,
    lift_entry,
    rate,
    require_events,
    run_detector,
    smoothed_rate,
)
from outreach.models import Client, PatternType

# Word-count bands: [0, 25), [25, 50), ... [300, inf).
WORD_BANDS = np.array([25, 50, 75, 100, 150, 200, 300])


def detect_what(
    client: Client,
    *,
    now: datetime | None = None,
    window_days: int = WINDOW_DAYS,
    valid_days: int = VALID_DAYS,
    evidence: Evidence | None = None,
    outcome: str = OUTCOME_RESPONSE,
) -> DetectionResult:
    """Learn and save the client's WHAT pattern; nothing is saved without enough finished touches and outcomes."""
    return run_detector(
        PatternType.WHAT,
        lambda e: _learn(e, outcome),
        client,
        now=now,
        window_days=window_days,
        valid_days=valid_days,
        evidence=evidence,
        content=True,
    )


def _learn(evidence: Evidence, outcome: str) -> dict:
    touches = _Touches.of(evidence, evidence.t_finished, outcome)
    event = "bookings" if outcome == OUTCOME_BOOKING else "bookings or replies"
    require_events(
        touches.count,
        touches.positives,
        unit="touches",
        event=event,
        min_units=MIN_TOUCHES,
        min_events=MIN_TOUCH_EVENTS,
    )
    features = touches.features()
    by_channel = {}
    for i, channel in enumerate(CHANNELS):
        of_channel = touches.subset(touches.channel == i)
        if of_channel.count >= MIN_TOUCHES and of_channel.positives >= MIN_TOUCH_EVENTS:
            by_channel[channel] = of_channel.features()
    return {
        **features,
        "personalization_lift": {flag: entry["lift"] for flag, entry in features["personalization"]["lift"].items()},
        "optimal_length": touches.optimal_length(),
        "by_channel": by_channel,
        "base_rate": rate(touches.base),
        "positives": touches.positives,
        "outcome": outcome,
        "unit": "touches",
        "window_days": evidence.window_days,
        "sample_size": touches.count,
        "confidence": confidence(touches.positives),
    }


class _Touches:
    """Content columns and outcomes of a set of touches."""

    COLUMNS = ("channel", "words", "cta", "pain", "flags")

    def __init__(self, positive: np.ndarray, **columns: np.ndarray):
        self.channel, self.words, self.cta = columns["channel"], columns["words"], columns["cta"]
        self.pain, self.flags = columns["pain"], columns["flags"]
        self.positive = positive
        self.count = len(positive)
        self.positives = int(positive.sum())
        self.base = self.positives / self.count if self.count else 0.0

    @classmethod
    def of(cls, evidence: Evidence, mask: np.ndarray, outcome: str) -> _Touches:
        return cls(
            evidence.t_positive(outcome)[mask], **{name: getattr(evidence, f"t_{name}")[mask] for name in cls.COLUMNS}
        )

    def subset(self, mask: np.ndarray) -> _Touches:
        return _Touches(self.positive[mask], **{name: getattr(self, name)[mask] for name in self.COLUMNS})

    def features(self) -> dict:
        return {
            "pain_points": self._judge({name: (self.pain >> i) & 1 == 1 for i, name in enumerate(PAIN_POINTS)}),
            "ctas": self._judge({name: self.cta == i for i, name in enumerate(CTAS)}),
            "personalization": self._judge({name: (self.flags >> i) & 1 == 1 for i, name in enumerate(FLAGS)}),
        }

    def _judge(self, uses: dict[str, np.ndarray]) -> dict:
        lifts = {}
        for name, used in uses.items():
            n1 = int(used.sum())
            if n1 >= MIN_BUCKET and self.count - n1 >= MIN_BUCKET:
                k1 = int(self.positive[used].sum())
                lifts[name] = lift_entry(k1, n1, self.positives - k1, self.count - n1, self.base)
        effective = sorted((n for n, e in lifts.items() if e["interval"][0] > 1), key=lambda n: -lifts[n]["lift"])
        ineffective = sorted((n for n, e in lifts.items() if e["interval"][1] < 1), key=lambda n: lifts[n]["lift"])
        return {"effective": effective, "ineffective": ineffective, "lift": lifts}

    def optimal_length(self) -> dict[str, dict]:
        out = {}
        for i, channel in enumerate(CHANNELS):
            of_channel = (self.channel == i) & (self.words >= 0)
            words, positive = self.words[of_channel], self.positive[of_channel]
            if not positive.any():
                continue
            band = np.digitize(words, WORD_BANDS)
            totals = np.bincount(band, minlength=len(WORD_BANDS) + 1)
            positives = np.bincount(band, weights=positive, minlength=len(WORD_BANDS) + 1)
            qualified = np.flatnonzero(totals >= MIN_BUCKET)
            if len(qualified) < 2:
                continue
            channel_rate = positive.mean()
            smoothed = smoothed_rate(positives, totals, channel_rate)
            best = int(qualified[np.argmax(smoothed[qualified])])
            in_best = words[band == best]
            k, n = int(positives[best]), int(totals[best])
            out[channel] = {
                "min_words": int(in_best.min()),
                "max_words": int(in_best.max()),
                "conversion_rate": rate(smoothed[best]),
                **lift_entry(k, n, int(positive.sum()) - k, len(positive) - n, channel_rate),
            }
        return out
