"""WHAT: which pain points, calls to action, personalization and lengths earn answers.

Unit: a settled touch (at least `settle_days` old, whatever became of its
lead: Evidence.t_settled, as WHEN judges them), described by its content
snapshot. By default a touch is positive when it earned a booking or a reply
(`outcome` in the pattern says which).

For every pain point, CTA and personalization flag: the rate of the touches
that used it against the rate of those that did not (`lift`, their ratio),
adjusted for the touch's channel and its lead's local day and hour (a
log-linear model, stats.adjusted_lifts: a text sent mostly on a good day or
by a lively channel is not credited with the day's or the channel's
answers), with `rate_with` / `rate_without` (raw rates) smoothed toward the
overall rate. Features
used (or not used) by fewer than MIN_BUCKET touches are not judged. The same
lifts are repeated per channel (`by_channel`) for the channels with enough
evidence of their own, and per channel each word-count band is compared with
the channel's other lengths. Every one of these tests is judged at once
(stats.judge, false discovery rate FDR): a feature is `effective` only when its
interval lies above 1, `ineffective` only when it lies below 1, and
`optimal_length` names a channel's band (as the word counts seen in it) only
when it is credibly better than the channel's other lengths. Groups with
nothing credible are named in `no_preference`. `personalization_lift` holds
the lift of each flag that could be measured.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypedDict

import numpy as np

from engines.json_types import JSONObject
from engines.services.learning.evidence import (
    CHANNELS,
    CTAS,
    FLAGS,
    MIN_TOUCH_EVENTS,
    MIN_TOUCHES,
    OUTCOME_BOOKING,
    OUTCOME_RESPONSE,
    PAIN_POINTS,
    Evidence,
    require_events,
)
from engines.services.learning.registry import register
from engines.services.learning.stats import (
    MIN_BUCKET,
    Adjustment,
    LiftEntry,
    Lifts,
    Verdict,
    group,
    judge,
    lifts,
    rate,
    smoothed_rate,
)
from outreach.models import PatternType

# Word-count bands: [0, 25), [25, 50), ... [300, inf).
WORD_BANDS = np.array([25, 50, 75, 100, 150, 200, 300])


FEATURE_GROUPS = ("pain_points", "ctas", "personalization")


class FeatureLift(LiftEntry):
    """A feature's lift, with the smoothed rates of the touches that used it and of those that did not."""

    rate_with: float
    rate_without: float
    sample_size: int
    positives: int


class FeatureJudgement(TypedDict):
    """A group of features (pain points, CTAs, personalization) once judged."""

    effective: list[str]
    ineffective: list[str]
    lift: dict[str, FeatureLift]


class LengthBand(LiftEntry):
    """A channel's credibly best word-count band, as the word counts seen in it."""

    min_words: int
    max_words: int
    conversion_rate: float
    sample_size: int
    positives: int


@register(PatternType.WHAT, content=True)
def learn(evidence: Evidence, outcome: str = OUTCOME_RESPONSE) -> JSONObject:
    touches = _Touches.of(evidence, evidence.t_settled, outcome)
    event = "bookings" if outcome == OUTCOME_BOOKING else "bookings or replies"
    require_events(
        touches.count,
        touches.positives,
        unit="touches",
        event=event,
        min_units=MIN_TOUCHES,
        min_events=MIN_TOUCH_EVENTS,
    )
    tests = _Tests()
    overall = touches.features(tests)
    per_channel = {}
    for i, channel in enumerate(CHANNELS):
        of_channel = touches.subset(touches.channel == i)
        if of_channel.count >= MIN_TOUCHES and of_channel.positives >= MIN_TOUCH_EVENTS:
            per_channel[channel] = of_channel.features(tests)
    lengths = touches.lengths(tests)
    confidence = tests.judge()
    features = {name: judged() for name, judged in overall.items()}
    optimal = {channel: judged() for channel, judged in lengths.items()}
    return {
        **features,
        "personalization_lift": {flag: entry["lift"] for flag, entry in features["personalization"]["lift"].items()},
        "optimal_length": {channel: band for channel, band in optimal.items() if band is not None},
        "by_channel": {
            channel: {name: judged() for name, judged in groups.items()} for channel, groups in per_channel.items()
        },
        "no_preference": [
            name for name in FEATURE_GROUPS if not features[name]["effective"] and not features[name]["ineffective"]
        ],
        "evidence": {"tests": tests.count},
        "base_rate": rate(touches.base),
        "positives": touches.positives,
        "outcome": outcome,
        "unit": "touches",
        "window_days": evidence.window_days,
        "sample_size": touches.count,
        "confidence": confidence,
    }


@dataclass
class _Tests:
    """Every lift a WHAT run tests, judged together once all are collected; each family reads its verdict after."""

    families: list[Lifts] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)

    def add(self, family: Lifts) -> int:
        self.families.append(family)
        return len(self.families) - 1

    @property
    def count(self) -> int:
        return sum(len(family.ratio) for family in self.families)

    def judge(self) -> float:
        self.verdicts, confidence = judge(*self.families)
        return confidence

    def verdict(self, handle: int) -> Verdict:
        return self.verdicts[handle]


class _Touches:
    """Content columns and outcomes of a set of touches."""

    COLUMNS = ("channel", "words", "cta", "pain", "flags", "day", "hour")

    def __init__(self, positive: np.ndarray, **columns: np.ndarray):
        self.channel, self.words, self.cta = columns["channel"], columns["words"], columns["cta"]
        self.pain, self.flags = columns["pain"], columns["flags"]
        self.day, self.hour = columns["day"], columns["hour"]
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

    def features(self, tests: _Tests) -> dict[str, Callable[[], FeatureJudgement]]:
        """Per group, a function giving the group's judgement once `tests` are judged."""
        uses = {
            "pain_points": {name: (self.pain >> i) & 1 == 1 for i, name in enumerate(PAIN_POINTS)},
            "ctas": {name: self.cta == i for i, name in enumerate(CTAS)},
            "personalization": {name: (self.flags >> i) & 1 == 1 for i, name in enumerate(FLAGS)},
        }
        # A touch has one CTA at most: the CTAs are compared in one model, the other features one by one.
        return {
            group_name: self._feature_tests(used, tests, labels=self.cta if group_name == "ctas" else None)
            for group_name, used in uses.items()
        }

    @functools.cached_property
    def adjustment(self) -> Adjustment:
        """Channel, day and hour as factors (an unknown day or hour, -1, is a level of its own)."""
        return Adjustment(self.positive, [self.channel, self.day, self.hour])

    def _feature_tests(
        self, uses: dict[str, np.ndarray], tests: _Tests, *, labels: np.ndarray | None = None
    ) -> Callable[[], FeatureJudgement]:
        counts = {}
        for name, used in uses.items():
            n1 = int(used.sum())
            if n1 >= MIN_BUCKET and self.count - n1 >= MIN_BUCKET:
                counts[name] = (int(self.positive[used].sum()), n1)
        if labels is not None and counts:
            every = self.adjustment.lifts(labels, len(uses))
            adjusted = every.subset(np.array([list(uses).index(name) for name in counts]))
        else:
            adjusted = _concatenated([self.adjustment.lifts(np.where(uses[name], 0, -1), 1) for name in counts])
        handle = tests.add(adjusted)

        def judged() -> FeatureJudgement:
            verdict = tests.verdict(handle)
            entries: dict[str, FeatureLift] = {}
            for j, (name, (k, n)) in enumerate(counts.items()):
                with_rate, without_rate = smoothed_rate([k, self.positives - k], [n, self.count - n], self.base)
                entries[name] = {
                    **verdict.entry(j),
                    "rate_with": rate(with_rate),
                    "rate_without": rate(without_rate),
                    "sample_size": n,
                    "positives": k,
                }
            names = list(counts)
            effective = sorted((names[j] for j in np.flatnonzero(verdict.better)), key=lambda n: -entries[n]["lift"])
            ineffective = sorted((names[j] for j in np.flatnonzero(verdict.worse)), key=lambda n: entries[n]["lift"])
            return {"effective": effective, "ineffective": ineffective, "lift": entries}

        return judged

    def lengths(self, tests: _Tests) -> dict[str, Callable[[], LengthBand | None]]:
        """Per channel, a function giving its credibly best word-count band (None when none is) once judged."""
        out = {}
        for i, channel in enumerate(CHANNELS):
            of_channel = (self.channel == i) & (self.words >= 0)
            if self.positive[of_channel].any():
                out[channel] = self._length_tests(self.words[of_channel], self.positive[of_channel], tests)
        return out

    def _length_tests(self, words: np.ndarray, positive: np.ndarray, tests: _Tests) -> Callable[[], LengthBand | None]:
        bands = group(np.digitize(words, WORD_BANDS), positive, size=len(WORD_BANDS) + 1)
        tested = bands.big_enough()
        if len(tested) < 2:
            return lambda: None
        k1, n1 = bands.positives[tested], bands.totals[tested]
        handle = tests.add(lifts(k1, n1, positive.sum() - k1, len(positive) - n1))
        smoothed = bands.smoothed(float(positive.mean()))

        def judged() -> LengthBand | None:
            verdict = tests.verdict(handle)
            credible = np.flatnonzero(verdict.better)
            if not len(credible):
                return None
            j = int(credible[np.argmax(smoothed[tested][credible])])
            in_best = words[np.digitize(words, WORD_BANDS) == tested[j]]
            return {
                "min_words": int(in_best.min()),
                "max_words": int(in_best.max()),
                "conversion_rate": rate(smoothed[tested[j]]),
                **verdict.entry(j),
                "sample_size": int(n1[j]),
                "positives": int(k1[j]),
            }

        return judged


_NO_LIFTS = Lifts(np.array([]), np.array([]), np.array([]))


def _concatenated(families: list[Lifts]) -> Lifts:
    if not families:
        return _NO_LIFTS
    return Lifts(*(np.concatenate([getattr(f, part) for f in families]) for part in ("ratio", "log_se", "z")))
